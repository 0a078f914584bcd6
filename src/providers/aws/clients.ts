import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { MlserveError } from '../../core/errors.js';

export interface AwsClients {
  region: string;
  lambda: LambdaClient;
  s3: S3Client;
  iam: IAMClient;
  sts: STSClient;
  logs: CloudWatchLogsClient;
  events: EventBridgeClient;
}

/**
 * SDK clients with the AWS defaults: the default credential chain (environment, shared config and
 * profiles, SSO, container and instance roles), the profile from --profile/config, and endpoint
 * overrides from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, which the SDK reads itself.
 */
export function createClients(options: { region?: string; profile?: string; env: Record<string, string | undefined> }): AwsClients {
  const region = options.region ?? options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new MlserveError('PROVIDER_CONFIG', 'no AWS region is set', { hint: 'set aws.region in mlserve.config.yaml, or AWS_REGION' });
  }
  const env = options.env;
  // The SDK warns on every run under Node 20 that its releases after January 2027 need Node 22;
  // mlserve's lockfile pins SDK versions that support Node 20, so the warning is not the user's to act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // The environment mlserve was given (not only process.env): explicit keys first, else the chain.
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY && !options.profile
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  const endpoint = (service: string) => {
    const url = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
    return url ? { endpoint: url } : {};
  };
  const common = { region, credentials, maxAttempts: 5 };
  return {
    region,
    lambda: new LambdaClient({ ...common, ...endpoint('LAMBDA') }),
    s3: new S3Client({ ...common, ...endpoint('S3'), forcePathStyle: !!(env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3) }),
    iam: new IAMClient({ ...common, ...endpoint('IAM') }),
    sts: new STSClient({ ...common, ...endpoint('STS') }),
    logs: new CloudWatchLogsClient({ ...common, ...endpoint('CLOUDWATCH_LOGS') }),
    events: new EventBridgeClient({ ...common, ...endpoint('EVENTBRIDGE') }),
  };
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
