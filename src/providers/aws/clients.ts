import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { MlserveError } from '../../core/errors.js';
import { partitionOf, type AwsSettings } from './settings.js';

export interface AwsClients {
  region: string;
  partition: string;
  credentials: AwsCredentialIdentityProvider;
  lambda: LambdaClient;
  s3: S3Client;
  iam: IAMClient;
  sts: STSClient;
  logs: CloudWatchLogsClient;
  cloudwatch: CloudWatchClient;
  events: EventBridgeClient;
  ecr: ECRClient;
}

/**
 * SDK clients for the resolved settings (see settings.ts): key variables from the environment
 * mlserve was given, unless a profile was chosen on purpose; else the SDK's default chain (shared
 * config and profiles, SSO, web identity, container and instance roles). Endpoint overrides from
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (moto_server, LocalStack).
 */
export function createClients(settings: AwsSettings, env: Record<string, string | undefined>): AwsClients {
  const region = settings.region;
  if (!region) {
    throw new MlserveError('PROVIDER_CONFIG', 'no AWS region is set', {
      hint: 'pass --region, set AWS_REGION, set aws.region in mlserve.config.yaml, or give the profile a region (aws configure set region <region>)',
    });
  }
  // The SDK warns on every run under Node 20 that its releases after January 2027 need Node 22;
  // mlserve's lockfile pins SDK versions that support Node 20, so the warning is not the user's to act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const credentials: AwsCredentialIdentityProvider =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY && !settings.profileExplicit
      ? async () => environmentKeys(env)
      : fromNodeProviderChain({ ...(settings.profile ? { profile: settings.profile } : {}), filepath: settings.credentialsFile, configFilepath: settings.configFile });
  const endpoint = (service: string) => {
    const url = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
    return url ? { endpoint: url } : {};
  };
  const common = { region, credentials, maxAttempts: 5 };
  return {
    region,
    partition: partitionOf(region),
    credentials,
    lambda: new LambdaClient({ ...common, ...endpoint('LAMBDA') }),
    s3: new S3Client({ ...common, ...endpoint('S3'), forcePathStyle: !!(env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3) }),
    iam: new IAMClient({ ...common, ...endpoint('IAM') }),
    sts: new STSClient({ ...common, ...endpoint('STS') }),
    logs: new CloudWatchLogsClient({ ...common, ...endpoint('CLOUDWATCH_LOGS') }),
    cloudwatch: new CloudWatchClient({ ...common, ...endpoint('CLOUDWATCH') }),
    events: new EventBridgeClient({ ...common, ...endpoint('EVENTBRIDGE') }),
    ecr: new ECRClient({ ...common, ...endpoint('ECR') }),
  };
}

function environmentKeys(env: Record<string, string | undefined>): AwsCredentialIdentity & { $source: Record<string, string> } {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    $source: { CREDENTIALS_ENV_VARS: 'g' },
  };
}

/** The SDK's credential sources (its `$source` feature ids): words for doctor, and whether a profile chose them. */
const SOURCES: [string, string, boolean][] = [
  ['CREDENTIALS_ENV_VARS', 'environment variables (AWS_ACCESS_KEY_ID)', false],
  ['CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN', 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)', false],
  ['CREDENTIALS_STS_ASSUME_ROLE_WEB_ID', 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)', false],
  ['CREDENTIALS_PROFILE_SSO', 'SSO through the profile', true],
  ['CREDENTIALS_SSO', 'SSO', true],
  ['CREDENTIALS_PROFILE_SOURCE_PROFILE', 'an assumed role (source_profile)', true],
  ['CREDENTIALS_PROFILE_PROCESS', 'credential_process in the profile', true],
  ['CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN', 'web identity token in the profile', true],
  ['CREDENTIALS_PROFILE', 'the shared config/credentials files', true],
  ['CREDENTIALS_HTTP', 'the container credentials endpoint (ECS/EKS)', false],
  ['CREDENTIALS_IMDS', 'the instance metadata service (EC2 instance role)', false],
];

/**
 * Where resolved credentials came from, in words (never a key), and whether a profile chose them.
 * The chain's instance-metadata and legacy container providers mark nothing, so an unmarked
 * identity came from one of those two.
 */
export function credentialSource(identity: AwsCredentialIdentity, env: Record<string, string | undefined>): { description: string; fromProfile: boolean } {
  const source = (identity as { $source?: Record<string, string> }).$source ?? {};
  const named = SOURCES.find(([id]) => id in source);
  if (named) return { description: named[1], fromProfile: named[2] };
  const container = env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  return { description: container ? 'the container credentials endpoint (ECS/EKS)' : 'the instance metadata service (EC2 instance role)', fromProfile: false };
}

/** Turn an SDK error into an MlserveError that names the call; never includes credentials. */
export function awsError(action: string, error: unknown): MlserveError {
  const e = error as Error & { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e instanceof MlserveError) return e;
  const name = e?.name ?? 'Error';
  if (/CredentialsProviderError|ExpiredToken|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|AccessDenied/.test(name)) {
    return new MlserveError('PROVIDER_AUTH', `${action}: ${name}: ${e.message}`, {
      hint: 'check your AWS credentials (`mlserve doctor --provider aws`), the profile, and the permissions of that identity',
      cause: error,
    });
  }
  return new MlserveError('PROVIDER_ERROR', `${action}: ${name}: ${e.message}`, { hint: 'run again; each step is idempotent. --debug shows the stack', cause: error });
}
