// The S3 adapter against the fake AWS endpoint over HTTP: the upload of a template too large for TemplateBody,
// whose URL CloudFormation can then read.
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { uploadTemplate } from '../../src/aws/s3.js';
import { type FakeAws, s3Location, startFakeAws } from '../fakes/aws.js';

let aws: FakeAws | undefined;

afterEach(async () => {
  await aws?.close();
  aws = undefined;
});

function s3Of(fake: FakeAws): S3Client {
  return new S3Client({
    endpoint: fake.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
    maxAttempts: 1,
  });
}

describe('uploadTemplate', () => {
  it('puts the template in the bucket and returns the virtual-hosted URL of the bucket’s region', async () => {
    aws = await startFakeAws();
    const body = `{"Resources":{}, "Padding": "${'x'.repeat(60_000)}"}`;
    const out = await uploadTemplate(s3Of(aws), {
      bucket: 'templates',
      key: 'promote-bot/api/prod/p-1.template',
      body,
      region: 'eu-west-1',
    });
    expect(out.TemplateURL).toBe('https://templates.s3.eu-west-1.amazonaws.com/promote-bot/api/prod/p-1.template');
    expect(aws.s3Objects.get('templates/promote-bot/api/prod/p-1.template')).toBe(body);
    expect(aws.callsOf('PutObject')[0]).toMatchObject({ region: 'eu-west-1' });
  });

  it('encodes each key segment so the URL names the same object', async () => {
    aws = await startFakeAws();
    const key = 'promote-bot/api svc/p#1.template';
    const out = await uploadTemplate(s3Of(aws), { bucket: 'templates', key, body: '{}', region: 'us-east-1' });
    expect(s3Location(out.TemplateURL, 'elsewhere')).toEqual({ bucket: 'templates', key });
    expect(aws.s3Objects.get(`templates/${key}`)).toBe('{}');
  });

  it('throws with the bucket and key named, keeping the cause', async () => {
    aws = await startFakeAws();
    aws.failNext('PutObject', { code: 'AccessDenied', message: 'Access Denied', status: 403 });
    const err = await uploadTemplate(s3Of(aws), {
      bucket: 'b',
      key: 'k.template',
      body: '{}',
      region: 'us-east-1',
    }).then(
      () => expect.unreachable('the upload should fail'),
      (e: Error) => e,
    );
    expect(err.message).toContain('uploading the template to s3://b/k.template');
    expect(err.message).toContain('Access Denied');
    expect((err.cause as Error).name).toBe('AccessDenied');
  });
});
