import { z } from 'zod';

/**
 * The shape of `mlserve.config.yaml`. One schema serves validation, defaults, the JSON Schema that
 * `mlserve schema` prints for editors, and the types the rest of the code uses.
 *
 * Limits come from ../shared/fixtures/limits.md (Lambda: memory 128–10,240 MB, timeout ≤ 900 s,
 * /tmp 512–10,240 MB; environment variables ≤ 4 KB in all).
 */

import { ARCHITECTURES, FRAMEWORKS, PACKAGE_TYPES, PROVIDERS, PYTHON_VERSIONS } from './ids.js';

export { ARCHITECTURES, FRAMEWORKS, PACKAGE_TYPES, PROVIDERS, PYTHON_VERSIONS, type Framework, type ProviderId } from './ids.js';

const int = (min: number, max: number, unit: string) =>
  z
    .number({ error: `expected a whole number of ${unit}` })
    .int({ error: `expected a whole number of ${unit}` })
    .min(min, { error: `must be at least ${min} ${unit}` })
    .max(max, { error: `must be at most ${max} ${unit}` });

const NAME = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;

const model = z
  .strictObject({
    path: z.string().min(1).default('.').describe('Model directory, relative to this config file.'),
    framework: z
      .enum(FRAMEWORKS)
      .describe('How the model is loaded: sklearn (joblib/pickle), onnx, torchscript, keras, huggingface (a transformers folder: config.json + *.safetensors; model.file is its config.json), or custom (predict.py).'),
    file: z
      .string()
      .min(1)
      .optional()
      .describe('The model file inside `path` (e.g. model.joblib). Not used by `custom`.'),
    predict: z
      .string()
      .min(1)
      .optional()
      .describe('custom only: the module defining load(model_dir) and predict(model, inputs). Default predict.py.'),
    offload: z
      .enum(['auto', 'always'])
      .default('auto')
      .describe('auto: model files move to the artifact store (S3, Blob) only when the bundle would not fit; always: every model file but Python source does, fetched and verified by SHA-256 at cold start (a smaller package to publish).'),
  })
  .describe('What to serve.');

const runtime = z
  .strictObject({
    python: z.enum(PYTHON_VERSIONS).default('3.11').describe('Python version of the target runtime.'),
    arch: z.enum(ARCHITECTURES).default('x86_64').describe('CPU architecture of the target runtime.'),
    requirements: z
      .string()
      .min(1)
      .default('requirements.txt')
      .describe('pip requirements file, relative to the model directory.'),
    package: z
      .enum(PACKAGE_TYPES)
      .default('auto')
      .describe('zip, image (a container image, up to 10 GB on Lambda), or auto (default): a zip unless it cannot fit, then an image.'),
  })
  .prefault({})
  .describe('The Python runtime the endpoint runs on (the target, never the host).');

const resources = z
  .strictObject({
    memory: int(128, 10240, 'MB').default(1024).describe('Memory in MB (128–10,240). On Lambda, 1,769 MB = 1 vCPU.'),
    timeout: int(1, 900, 'seconds').default(30).describe('Per-request timeout in seconds (1–900).'),
    ephemeralStorage: int(512, 10240, 'MB')
      .default(512)
      .describe('/tmp size in MB (512–10,240); raised automatically when model artifacts are offloaded.'),
    concurrency: int(1, 1000, 'executions')
      .optional()
      .describe('Reserved concurrency: reserves and caps concurrent executions on Lambda. Unset (default): nothing reserved, the function scales with the account. Also caps the local worker pool.'),
  })
  .prefault({})
  .describe('Compute given to each execution.');

const cors = z.strictObject({
  origins: z.array(z.string().min(1)).min(1).describe('Allowed origins, e.g. ["https://app.example.com"].'),
  methods: z.array(z.string().min(1)).default(['POST', 'GET']),
  headers: z.array(z.string().min(1)).default(['content-type']),
  maxAge: int(0, 86400, 'seconds').default(300),
});

const endpoint = z
  .strictObject({
    public: z
      .boolean()
      .default(false)
      .describe('false (default): callers must sign requests (IAM). true: anyone with the URL can call it.'),
    cors: cors.optional().describe('Cross-origin settings for browser callers.'),
  })
  .prefault({})
  .describe('How the endpoint is reached.');

const triggers = z
  .strictObject({
    s3: z
      .array(
        z.strictObject({
          bucket: z.string().min(3),
          prefix: z.string().default(''),
          suffix: z.string().default(''),
          output: z.strictObject({ bucket: z.string().min(3), prefix: z.string().default('predictions/') }),
        }),
      )
      .default([])
      .describe('Batch prediction: new objects (CSV, JSON Lines, JSON) are scored, results written to output.'),
    sqs: z
      .array(
        z.strictObject({
          queueArn: z.string().regex(/^arn:aws[a-z-]*:sqs:/, { error: 'expected an SQS queue ARN (arn:aws:sqs:…)' }),
          batchSize: int(1, 10000, 'messages').default(10),
        }),
      )
      .default([])
      .describe('One prediction per message; failures reported per message.'),
    schedule: z
      .array(
        z.strictObject({
          expression: z
            .string()
            .regex(/^(rate|cron)\(.+\)$/, { error: 'expected rate(…) or cron(…), e.g. rate(5 minutes)' }),
        }),
      )
      .default([])
      .describe('Scheduled warm-up invocations.'),
  })
  .prefault({})
  .describe('Events other than HTTP that invoke the model.');

const aws = z
  .strictObject({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region such as us-east-1' }).optional(),
    profile: z.string().min(1).optional().describe('Named profile from ~/.aws/config.'),
    bucket: z.string().min(3).optional().describe('Artifacts bucket; created (private, encrypted) when omitted.'),
    role: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, { error: 'expected an IAM role ARN' }).optional(),
  })
  .prefault({})
  .describe('AWS Lambda settings.');

const azure = z
  .strictObject({
    subscriptionId: z.string().min(1).optional().describe('Subscription to deploy to; else AZURE_SUBSCRIPTION_ID, else the Azure CLI’s default.'),
    tenantId: z.string().min(1).optional().describe('Microsoft Entra tenant to sign in to; else AZURE_TENANT_ID, else the credential’s own.'),
    cloud: z.enum(['public', 'china', 'usgovernment']).default('public').describe('Azure cloud: its sign-in authority, Resource Manager and storage endpoints.'),
    resourceManagerEndpoint: z
      .url({ protocol: /^https$/, error: 'expected an https:// URL such as https://management.azure.com' })
      .optional()
      .describe('Resource Manager endpoint, for an Azure Stack Hub or other private cloud; default: the cloud’s.'),
    logsEndpoint: z
      .url({ protocol: /^https$/, error: 'expected an https:// URL such as https://api.loganalytics.io' })
      .optional()
      .describe('Log Analytics query endpoint `mlserve logs` reads Application Insights through; default: the cloud’s.'),
    resourceGroup: z.string().min(1).optional().describe('An existing resource group; else mlserve creates (and destroy deletes) mlserve-<app>-<stage>.'),
    location: z.string().min(1).optional().describe('Azure region for new resources (e.g. eastus); else AZURE_LOCATION, else eastus.'),
    storageAccount: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, { error: 'expected 3–24 lowercase letters and digits' })
      .optional(),
  })
  .prefault({})
  .describe('Azure Functions settings.');

const image = z
  .strictObject({
    base: z
      .string()
      .regex(/^[^\s/]+\/[^\s]+$/, { error: 'expected a full image reference such as public.ecr.aws/lambda/python:3.11' })
      .optional()
      .describe('Base image for runtime.package image: any registry (plain HTTP only on loopback), by tag or @sha256 digest. Default: AWS’s Lambda Python base for runtime.python. Its Python must equal runtime.python; its glibc decides the wheels.'),
  })
  .prefault({})
  .describe('Container image settings (runtime.package image or auto).');

const local = z
  .strictObject({
    port: int(0, 65535, 'port').default(8080).describe('Port `mlserve serve` listens on (127.0.0.1).'),
    workers: int(1, 256, 'workers').optional().describe('Worker pool size; defaults to this machine’s cores, at most resources.concurrency.'),
  })
  .prefault({})
  .describe('The local provider: runs the same bundle on this machine.');

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = /^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_|MLSERVE_)/;

const environment = z
  .record(
    z.string().regex(ENV_NAME, { error: 'environment variable names are letters, digits and _' }).refine(
      (k) => !RESERVED_ENV.test(k),
      { error: 'names starting with AWS_, LAMBDA_ or MLSERVE_ are reserved by the runtime' },
    ),
    z.union([z.string(), z.number(), z.boolean()]).transform(String),
  )
  .default({})
  .refine((env) => Object.entries(env).reduce((n, [k, v]) => n + k.length + v.length, 0) <= 4096, {
    error: 'environment variables exceed 4 KB in total (the Lambda limit)',
  })
  .describe('Environment variables given to the function.');

const monitoring = z
  .strictObject({
    alarms: z
      .boolean()
      .default(true)
      .describe('Alarms on the stage and a dashboard, created by deploy and removed by destroy: on AWS, CloudWatch alarms (error rate, p99 latency, throttles) and a dashboard; on Azure, log search alert rules on Application Insights (error rate, p99 latency) and a workbook. false: none, and existing ones are removed.'),
    errorRate: z.number().min(0).max(100).default(5).describe('Error-rate alarm: more than this percentage of requests failing, in 3 of 5 minutes.'),
    p99: int(1, 900000, 'ms').default(1000).describe('Latency alarm: p99 above this many milliseconds, in 3 of 5 minutes (the latency target).'),
    alarmTopic: z
      .string()
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, { error: 'expected an SNS topic ARN (arn:aws:sns:region:account:name)' })
      .optional()
      .describe('SNS topic told when an alarm fires and when it clears (AWS).'),
    actionGroup: z
      .string()
      .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/microsoft\.insights\/actionGroups\/[^/]+$/i, { error: 'expected an action group resource ID (/subscriptions/…/resourceGroups/…/providers/microsoft.insights/actionGroups/name)' })
      .optional()
      .describe('Azure Monitor action group told when an alert fires and when it resolves (Azure).'),
  })
  .prefault({})
  .describe('What watches the endpoint once it is deployed.');

const tags = z
  .record(z.string().min(1).max(128), z.string().max(256))
  .default({})
  .describe('Tags applied to every cloud resource (mlserve adds mlserve:app and mlserve:stage).');

const shape = {
  $schema: z.string().optional().describe('Path or URL of this JSON Schema, for editors.'),
  name: z
    .string({ error: 'expected a name such as iris-classifier' })
    .regex(NAME, { error: 'must be 2–40 lowercase letters, digits or dashes, starting with a letter' })
    .describe('App name; prefixes every cloud resource.'),
  provider: z.enum(PROVIDERS).default('local').describe('Default provider for deploy/invoke; --provider overrides.'),
  model,
  runtime,
  resources,
  endpoint,
  triggers,
  monitoring,
  environment,
  tags,
  image,
  aws,
  azure,
  local,
};

/** A resolved config (after stage merge and defaults). */
export const configSchema = z.strictObject(shape);
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** The file as written: a config plus optional per-stage overrides. */
export const fileSchema = z.strictObject({
  ...shape,
  stages: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'stage names are lowercase letters, digits and dashes' }),
      z.looseObject({}).describe('Keys to override for this stage, in the same shape as the top level.'),
    )
    .optional()
    .describe('Per-stage overrides, merged over the top level for --stage <name>.'),
});

/** The JSON Schema printed by `mlserve schema` (input side: defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://mlserve.dev/schema/mlserve.config.schema.json',
    title: 'mlserve configuration',
  };
}
