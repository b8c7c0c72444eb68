// A local endpoint answering an SDK client with whatever XML a test sets, for comparing how two clients read the
// same CloudFormation answer (test/aws/xml-text.test.ts, test/aws/xml-parse.test.ts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceOutputTypes } from '@aws-sdk/client-cloudformation';

export interface XmlEndpoint {
  /** client config for it: region, endpoint, static credentials, one attempt */
  config: {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
  /** what every request is answered with from now on */
  answer(body: string, status?: number): void;
  close(): Promise<void>;
}

export async function startXmlEndpoint(): Promise<XmlEndpoint> {
  let next = { status: 200, body: '' };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(next.status, { 'content-type': 'text/xml' });
      res.end(next.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    config: {
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    },
    answer(body, status = 200) {
      next = { status, body };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A CloudFormation (AWS Query) answer of `action` with `result` as its Result element's content. */
export const queryAnswer = (action: string, result: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">` +
  `<${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></${action}Response>`;

/** An output without its request metadata, for comparing two clients' readings. */
export const withoutMetadata = ({ $metadata: _, ...rest }: ServiceOutputTypes) => rest;
