import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Moto } from './moto.js';

/** The config text of an S3 trigger (incoming-data/batches/*.csv → predictions-out) and an SQS trigger (batches of 5). */
export function triggersConfig(queueArn: string): string {
  return `
triggers:
  s3:
    - bucket: incoming-data
      prefix: batches/
      suffix: .csv
      output:
        bucket: predictions-out
  sqs:
    - queueArn: ${queueArn}
      batchSize: 5
`;
}

/** What the triggers watch, created in moto: the incoming and output buckets and the `scoring` queue. */
export async function triggerSources(moto: Moto): Promise<{ s3: S3Client; queueArn: string }> {
  const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const sqs = new SQSClient(common);
  await s3.send(new CreateBucketCommand({ Bucket: 'incoming-data' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'predictions-out' }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'scoring' }))).QueueUrl!;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  return { s3, queueArn };
}
