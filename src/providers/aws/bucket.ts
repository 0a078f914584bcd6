import { createReadStream } from 'node:fs';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BucketPlan } from './plan.js';

/** Does the bucket exist (and can we see it)? */
export async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchBucket' || e.$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

/**
 * Make the planned artifacts bucket safe whether it is new or half-configured by an interrupted
 * deploy: private (every public access blocked), encrypted at rest, tagged, with its lifecycle rules.
 */
export async function ensureBucket(s3: S3Client, plan: BucketPlan, region: string): Promise<boolean> {
  const Bucket = plan.name;
  let created = false;
  if (!(await bucketExists(s3, Bucket))) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket, ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }) }));
      created = true;
    } catch (error) {
      if ((error as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw error;
    }
  }
  await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: plan.publicAccessBlock }));
  const { BucketKeyEnabled, ...byDefault } = plan.encryption;
  await s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: byDefault, BucketKeyEnabled }] } }));
  await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: Object.entries(plan.tags).map(([Key, Value]) => ({ Key, Value })) } }));
  const Rules = plan.lifecycle.map((r) => ({
    ID: r.ID,
    Status: 'Enabled' as const,
    Filter: { Prefix: r.Prefix },
    ...(r.ExpirationDays ? { Expiration: { Days: r.ExpirationDays } } : {}),
    ...(r.AbortIncompleteMultipartUploadDays ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.AbortIncompleteMultipartUploadDays } } : {}),
  }));
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
  return created;
}

export async function bucketTags(s3: S3Client, bucket: string): Promise<Record<string, string>> {
  try {
    const out = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
    return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key!, t.Value!]));
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchTagSet') return {}; // an untagged bucket
    throw error;
  }
}

/**
 * Upload a file unless an object with the same SHA-256 (recorded in its metadata) is already there.
 * Multipart through lib-storage; `onProgress` gets the fraction done.
 */
export async function uploadIfChanged(
  s3: S3Client,
  o: { bucket: string; key: string; file: string; sha256: string; onProgress?: (loaded: number, total: number) => void },
): Promise<boolean> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: o.bucket, Key: o.key }));
    if (head.Metadata?.sha256 === o.sha256) return false;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (!(e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404)) throw error;
  }
  const upload = new Upload({
    client: s3,
    params: { Bucket: o.bucket, Key: o.key, Body: createReadStream(o.file), Metadata: { sha256: o.sha256 }, ServerSideEncryption: 'AES256' },
    queueSize: 4,
    partSize: 16 * 1024 * 1024,
  });
  upload.on('httpUploadProgress', (p) => {
    if (p.total && p.loaded !== undefined) o.onProgress?.(p.loaded, p.total);
  });
  await upload.done();
  return true;
}

/** Delete every object under `prefix` (all of them when prefix is ''). */
export async function deleteObjects(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      deleted += keys.length;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

export async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  await deleteObjects(s3, bucket, '');
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
