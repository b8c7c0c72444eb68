// Thin S3 adapter: the one upload a promotion makes, a template too large for CloudFormation's TemplateBody.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { doing } from './cloudformation.js';

export interface TemplateUpload {
  bucket: string;
  key: string;
  body: string;
  /** The bucket's region, for the virtual-hosted URL CloudFormation reads */
  region: string;
}

/** Uploads the template and returns the TemplateURL for CreateChangeSet / GetTemplateSummary. */
export async function uploadTemplate(s3: S3Client, u: TemplateUpload): Promise<{ TemplateURL: string }> {
  await doing(`uploading the template to s3://${u.bucket}/${u.key}`, () =>
    s3.send(new PutObjectCommand({ Bucket: u.bucket, Key: u.key, Body: u.body })),
  );
  // Virtual-hosted-style URL (docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html); each key
  // segment URL-encoded, the slashes kept.
  const path = u.key.split('/').map(encodeURIComponent).join('/');
  return { TemplateURL: `https://${u.bucket}.s3.${u.region}.amazonaws.com/${path}` };
}
