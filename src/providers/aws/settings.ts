import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadSharedConfigFiles } from '@smithy/core/config';
import type { Config } from '../../core/config/schema.js';

/** Region and profile in effect, each with where it came from (for doctor and messages). */
export interface AwsSettings {
  region?: string;
  regionSource: string;
  profile?: string;
  profileSource: string;
  /** True when the profile was chosen on purpose (flag or config): it then beats key variables. */
  profileExplicit: boolean;
  configFile: string;
  credentialsFile: string;
}

export interface AwsFlags {
  region?: string;
  profile?: string;
}

/**
 * The one resolution of region and profile, used by deploy and doctor alike, in the AWS CLI's
 * precedence: the flag, then the environment, then the config's `aws.*`, then the profile's own
 * `region` in the shared config file.
 */
export async function resolveAwsSettings(o: { flags?: AwsFlags; env: Record<string, string | undefined>; config?: Config }): Promise<AwsSettings> {
  const { env } = o;
  const home = env.HOME ?? homedir();
  const configFile = env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config');
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials');
  const profiles: [string | undefined, string][] = [
    [o.flags?.profile, '--profile'],
    [env.AWS_PROFILE, 'AWS_PROFILE'],
    [o.config?.aws.profile, 'aws.profile in the config'],
  ];
  const [profile, profileSource] = profiles.find(([v]) => v) ?? [undefined, 'the default profile'];
  const regions: [string | undefined, string][] = [
    [o.flags?.region, '--region'],
    [env.AWS_REGION, 'AWS_REGION'],
    [env.AWS_DEFAULT_REGION, 'AWS_DEFAULT_REGION'],
    [o.config?.aws.region, 'aws.region in the config'],
  ];
  let [region, regionSource] = regions.find(([v]) => v) ?? [undefined, 'not set'];
  if (!region) {
    const name = profile ?? 'default';
    // A missing file is "no profile region"; the loader itself treats unreadable files the same way.
    const files = await loadSharedConfigFiles({ filepath: credentialsFile, configFilepath: configFile, ignoreCache: true });
    const fromProfile = files.configFile[name]?.region ?? files.credentialsFile[name]?.region;
    if (fromProfile) [region, regionSource] = [fromProfile, `the region of profile "${name}" in ${configFile}`];
  }
  const settings: AwsSettings = { regionSource, profileSource, profileExplicit: profileSource !== 'AWS_PROFILE' && !!profile, configFile, credentialsFile };
  if (region) settings.region = region;
  if (profile) settings.profile = profile;
  return settings;
}

/** The ARN partition of a region: aws, aws-cn (China) or aws-us-gov (GovCloud). */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}
