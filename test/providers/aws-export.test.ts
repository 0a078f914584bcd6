import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, type ConfigInput } from '../../src/core/config/schema.js';
import { cfn, cloudFormationTemplate } from '../../src/providers/aws/export/cloudformation.js';
import { terraformFile } from '../../src/providers/aws/export/terraform.js';
import { awsPlan, TOKENS } from '../../src/providers/aws/plan.js';
import { tempDir } from '../helpers/python.js';

// Values a user writes (environment, tags, filters) must reach the template as written: no `${…}`
// of theirs read as an interpolation, no YAML scalar turned into a number or a boolean.
const TRICKY = { TEMPLATE: 'hello ${name}', DIRECTIVE: '%{if x}', QUOTED: 'say "hi" \\ back', YES: 'yes', OCTAL: '0755', EMPTY: '' };
const SHA = 'ab'.repeat(32);

function plan(extra: Partial<ConfigInput> = {}) {
  const config = configSchema.parse({ name: 'iris', model: { framework: 'custom' }, environment: TRICKY, ...extra });
  return awsPlan(config, { ephemeralStorageMb: 512, packageType: 'zip' }, { account: TOKENS.account, region: TOKENS.region, partition: TOKENS.partition, bucket: TOKENS.bucket, stage: 'dev' });
}

describe('export writers keep what the user wrote', () => {
  it('CloudFormation: a lone token is a Ref, a mixed string a Fn::Sub with literal ${ escaped as ${!', () => {
    expect(cfn('plain ${x}')).toBe('plain ${x}');
    expect(cfn(TOKENS.bucket)).toEqual({ Ref: 'ArtifactsBucket' });
    expect(cfn(`arn:${TOKENS.partition}:s3:::\${literal}/${TOKENS.bucket}`)).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${!literal}/${ArtifactsBucket}' });
  });

  it('CloudFormation: the environment round-trips through the YAML exactly', async () => {
    const template = cloudFormationTemplate({ plan: plan(), bundle: { sha256: SHA, modelSha256: SHA }, codeKey: 'iris/dev/export/x.zip' });
    const { Document } = await import('yaml');
    const text = new Document(template, { aliasDuplicateObjects: false }).toString({ lineWidth: 0 });
    const read = parse(text) as { Resources: { Function: { Properties: { Environment: { Variables: Record<string, unknown> } } } } };
    expect(read.Resources.Function.Properties.Environment.Variables).toEqual({ ...TRICKY, MLSERVE_ARTIFACTS_BUCKET: { Ref: 'ArtifactsBucket' }, MLSERVE_STAGE: 'dev' });
  });

  it('Terraform: ${ and %{ in a value are escaped, quotes and backslashes too, and terraform fmt accepts the file', () => {
    const text = terraformFile({ plan: plan(), bundle: { sha256: SHA, modelSha256: SHA }, codeKey: 'k', app: 'iris', stage: 'dev', objects: [{ name: 'code', key: 'iris/dev/export/x.zip', source: 'artifacts/x.zip', sha256: SHA }] }, ['header']);
    expect(text).toContain('TEMPLATE                 = "hello $${name}"');
    expect(text).toContain('DIRECTIVE                = "%%{if x}"');
    expect(text).toContain('QUOTED                   = "say \\"hi\\" \\\\ back"');
    expect(text).toContain('MLSERVE_ARTIFACTS_BUCKET = local.artifacts_bucket');
    const dir = tempDir('tf-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.tf'), text);
    const fmt = spawnSync('terraform', ['fmt', '-check', '-diff', join(dir, 'main.tf')], { encoding: 'utf8' });
    expect(`${fmt.status}${fmt.stdout}`).toBe('0');
  });
});
