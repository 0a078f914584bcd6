import type { Config } from '../../core/config/schema.js';
import { MB, type LimitSpec } from '../../packaging/limits.js';
import { imageTarget, type RuntimeImage } from '../../packaging/target.js';
import type { Platform } from '../platform.js';

const QUOTAS = 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html';

/** Lambda's limits, each with its source (../shared/fixtures/limits.md collects them). */
export const AWS_LIMITS: LimitSpec[] = [
  { id: 'zipped', name: 'zipped, direct upload', bytes: 50 * MB, effect: 'route', packageType: 'zip', source: `${QUOTAS} (50 MB zipped, for direct upload; larger code goes through S3)` },
  { id: 'unzipped', name: 'unzipped, incl. layers', bytes: 262_144_000, effect: 'error', packageType: 'zip', source: `${QUOTAS} (250 MB unzipped, including layers)` },
  {
    id: 'tmp',
    name: '/tmp (ephemeral storage)',
    bytes: 10_240 * MB,
    effect: 'error',
    source: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-ephemeralstorage.html (512–10,240 MB)',
  },
  {
    id: 'image',
    name: 'container image, uncompressed',
    bytes: 10 * 1024 * MB,
    effect: 'error',
    packageType: 'image',
    source: `${QUOTAS} (container image code package size: 10 GB, counted here uncompressed with the base’s layers)`,
  },
];

/** python3.9–3.11 run on Amazon Linux 2 (glibc 2.26), python3.12+ on Amazon Linux 2023 (glibc 2.34). */
export const LAMBDA_RUNTIMES: RuntimeImage[] = ['3.9', '3.10', '3.11', '3.12', '3.13'].map((python) =>
  Number(python.split('.')[1]) >= 12 ? { python, os: 'Amazon Linux 2023', glibc: [2, 34] } : { python, os: 'Amazon Linux 2', glibc: [2, 26] },
);

/**
 * Lambda's Python runtimes: deprecated, then new functions blocked
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html; the dates as cfn-lint 1.51.0's
 * LmbdRuntimeLifecycle.json records them).
 */
const PYTHON_LIFECYCLE: Record<string, { deprecated: string; createBlocked: string }> = {
  '3.9': { deprecated: '2025-12-15', createBlocked: '2026-06-01' },
  '3.10': { deprecated: '2026-06-30', createBlocked: '2026-07-31' },
  '3.11': { deprecated: '2026-06-30', createBlocked: '2026-07-31' },
  '3.12': { deprecated: '2028-10-31', createBlocked: '2028-11-30' },
  '3.13': { deprecated: '2029-06-30', createBlocked: '2029-07-31' },
};

/** A zip function on a deprecated Python runtime: said, with the dates (an image brings its own runtime). */
function runtimeNotes(config: Config, today = new Date().toISOString().slice(0, 10)): string[] {
  const life = PYTHON_LIFECYCLE[config.runtime.python];
  if (!life || config.runtime.package === 'image' || today < life.deprecated) return [];
  return [
    `Lambda deprecated python${config.runtime.python} on ${life.deprecated}; from ${life.createBlocked} it refuses new functions on it (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html): set runtime.python to 3.12 or later, or runtime.package: image`,
  ];
}

export const awsPlatform: Platform = {
  id: 'aws',
  title: 'AWS Lambda',
  target: (config: Config) => imageTarget('aws', 'aws', config, LAMBDA_RUNTIMES, { entryFiles: ['mlserve_handler.py'], provided: ['boto3', 'botocore', 's3transfer'] }),
  limits: AWS_LIMITS,
  // https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html: 6 MB request and response (synchronous).
  maxPayloadBytes: 6 * MB,
  artifactStore: { kind: 's3', name: 'Amazon S3', remote: true },
  packageTypes: ['zip', 'image'],
  exportFormats: ['cloudformation', 'sam', 'terraform'],
  image: {
    // AWS's base images for Lambda (https://gallery.ecr.aws/lambda/python), pulled anonymously.
    defaultBase: (python) => `public.ecr.aws/lambda/python:${python}`,
    taskRoot: '/var/task',
    handler: 'mlserve_handler.handler',
  },
  uploadRoute: (zipped, packageType = 'zip') =>
    packageType === 'image'
      ? { id: 'registry', description: 'pushed to the app’s ECR repository (layers it has are skipped)' }
      : zipped !== null && zipped > AWS_LIMITS[0]!.bytes
      ? { id: 'object-storage', description: 'through S3 (over 50 MB zipped)' }
      : { id: 'direct', description: zipped === null ? 'decided when the zip is written' : 'direct (≤ 50 MB zipped)' },
  configNotes: (config) => runtimeNotes(config),
  flags: [
    { flags: '--region <region>', description: 'AWS region (over AWS_REGION, aws.region and the profile’s region)' },
    { flags: '--profile <name>', description: 'AWS profile from ~/.aws/config (over AWS_PROFILE and aws.profile)' },
  ],
  init: {
    fields: [{ name: 'region', message: 'AWS region', default: (env) => env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1' }],
    configSection: (values) => (values.region ? ['aws:', `  region: ${values.region}`] : []),
  },
  doctor: async (ctx) => (await import('./doctor.js')).awsChecks(ctx),
};
