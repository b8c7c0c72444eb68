// A GetTemplate answer's TemplateBody read without the SDK's XML parser (src/aws/template-body.ts): the decoding
// as tables and properties, and through the real SDK client over HTTP against the SDK's own reading of the same
// answers (the oracle), big templates, answers of other shapes and error answers included.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTemplateBody } from '../../src/aws/cloudformation.js';
import { decodeInSlices, decodeXmlText, sliceEnd, templateBodySpan } from '../../src/aws/template-body.js';
import { escapeXml } from '../fakes/aws-wire.js';

const noPause = () => Promise.resolve();

describe('decodeXmlText', () => {
  it.each([
    ['plain text', 'abc', 'abc'],
    ['the five entities', '&quot;&amp;&lt;&gt;&apos;', `"&<>'`],
    ['an escaped entity is decoded once', '&amp;lt;', '&lt;'],
    ['a character reference for & is not read again', '&#38;lt;&#x26;amp;', '&lt;&amp;'],
    ['an escaped character reference', '&amp;#38;', '&#38;'],
    ['hex, decimal, beyond the BMP', '&#xD;&#10;&#x1F600;', '\r\n😀'],
    ['CR LF and CR as written become LF', 'a\r\nb\rc', 'a\nb\nc'],
    ['a named entity XML does not define is dropped, as the SDK does', 'a&nbsp;b&amp;c', 'ab&c'],
    ['an & that starts no reference', 'a & b; c &', 'a & b; c &'],
  ])('%s', (_name, input, out) => {
    expect(decodeXmlText(input)).toBe(out);
  });
});

/** `s` written as XML text, each character in one of the ways XML allows, chosen by `how`. */
function encode(s: string, how: number[]): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    const h = how[i++ % how.length]!;
    const cp = ch.codePointAt(0)!;
    const named = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[ch];
    if (h === 0 && named) out += named;
    else if (h === 1) out += `&#${cp};`;
    else if (h === 2) out += `&#x${cp.toString(16)};`;
    else if (named && ch !== '"' && ch !== "'")
      out += named; // & < > must be escaped
    else if (ch === '\r')
      out += '&#13;'; // a CR as written would become LF
    else out += ch;
  }
  return out;
}

describe('decoding in slices', () => {
  it('decodes any text written any way XML allows, whatever the slice size, as the whole would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 1, max: 64 }),
        async (s, how, slice) => {
          const xml = encode(s, how);
          expect(decodeXmlText(xml)).toBe(s);
          // As the SDK's parser: an element's text of only whitespace with a line end in it is no text.
          const element = s.trim() === '' && s.includes('\n') ? '' : s;
          expect(await decodeInSlices(xml, noPause, slice)).toBe(element);
        },
      ),
      { numRuns: 500 },
    );
  });

  it.each([
    ['a reference across the limit: cut before it', 'ab&amp;cd', 0, 4, 2],
    ['a reference at the start of the slice: taken whole', '&amp;cd', 0, 2, 5],
    ['an & with no ; after it: cut at the limit', 'ab&cdef', 0, 4, 4],
    ['between CR and LF: cut before the CR', 'abc\r\ndef', 0, 4, 3],
    ['CR LF at the start of the slice: taken whole', '\r\ndef', 0, 1, 2],
    ['past the end', 'abc', 0, 10, 3],
  ])('sliceEnd: %s', (_name, text, from, limit, end) => {
    expect(sliceEnd(text, from, limit)).toBe(end);
  });

  it('lets other work run between slices', async () => {
    let pauses = 0;
    const text = 'x&amp;'.repeat(20_000); // 120,000 characters
    const out = await decodeInSlices(text, async () => void pauses++, 32 * 1024);
    expect(out).toBe('x&'.repeat(20_000));
    expect(pauses).toBe(3);
  });

  it.each([
    ['no TemplateBody', '<R><Other>x</Other></R>'],
    ['two TemplateBody elements', '<R><TemplateBody>a</TemplateBody><TemplateBody>b</TemplateBody></R>'],
    ['CDATA inside', '<R><TemplateBody><![CDATA[a<b]]></TemplateBody></R>'],
    ['an element inside', '<R><TemplateBody>a<b/>c</TemplateBody></R>'],
  ])('templateBodySpan leaves to the SDK an answer with %s', (_name, xml) => {
    expect(templateBodySpan(xml)).toBeUndefined();
  });
});

describe('getTemplateBody through the SDK client', () => {
  let server: Server;
  let next: { status: number; body: string } = { status: 200, body: '' };
  let cfn: CloudFormationClient;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(next.status, { 'content-type': 'text/xml' });
        res.end(next.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cfn = new CloudFormationClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    cfn.destroy();
    await new Promise((r) => server.close(r));
  });

  const answer = (inner: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<GetTemplateResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">` +
    `<GetTemplateResult>${inner}<StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>` +
    `</GetTemplateResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetTemplateResponse>`;
  /** What the SDK itself reads from the same answer (no step of ours on that command). */
  const sdkReads = async () =>
    (await cfn.send(new GetTemplateCommand({ StackName: 's', TemplateStage: 'Original' }))).TemplateBody;

  it('reads what the SDK reads, for any template body as CloudFormation escapes it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
        next = { status: 200, body: answer(`<TemplateBody>${escapeXml(s)}</TemplateBody>`) };
        const ours = await getTemplateBody(cfn, 's');
        expect(ours).toBe((await sdkReads()) ?? '');
      }),
      { numRuns: 100 },
    );
  });

  it('reads a 1 MB JSON template with CR LF line ends byte for byte', async () => {
    const resources: Record<string, unknown> = {};
    for (let i = 0; i < 12_000; i++) {
      resources[`Queue${i}`] = { Type: 'AWS::SQS::Queue', Properties: { QueueName: `q-${i}-<&>"'` } };
    }
    const template = JSON.stringify({ Resources: resources }, null, 1).replace(/\n/g, '\r\n');
    expect(template.length).toBeGreaterThan(1_000_000);
    next = { status: 200, body: answer(`<TemplateBody>${escapeXml(template)}</TemplateBody>`) };
    expect(await getTemplateBody(cfn, 's')).toBe(template);
  });

  it('leaves an answer of another shape to the SDK', async () => {
    next = { status: 200, body: answer('<TemplateBody><![CDATA[Resources: {a: "<&>"}]]></TemplateBody>') };
    expect(await getTemplateBody(cfn, 's')).toBe('Resources: {a: "<&>"}');
    next = { status: 200, body: answer('') };
    expect(await getTemplateBody(cfn, 's')).toBe('');
  });

  it('leaves an error answer to the SDK: the error is CloudFormation’s', async () => {
    next = {
      status: 400,
      body:
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>' +
        '<Code>ValidationError</Code><Message>Stack with id s does not exist</Message></Error>' +
        '<RequestId>r-2</RequestId></ErrorResponse>',
    };
    const err = await getTemplateBody(cfn, 's').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(((err as Error).cause as Error).name).toBe('ValidationError');
    expect((err as Error).message).toContain('Stack with id s does not exist');
  });
});
