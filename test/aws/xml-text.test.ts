// Long texts of CloudFormation's answers read without the SDK's XML parser (src/aws/xml-text.ts): decoding, lifting
// and putting back as tables and properties, and through the real SDK client over HTTP against the SDK's own
// reading of the same answers (a client without the two steps: the oracle), big answers, answers of other shapes
// and error answers included.
import { CloudFormationClient, DescribeChangeSetCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTemplateBody } from '../../src/aws/cloudformation.js';
import {
  decodeTexts,
  decodeXmlText,
  LONG_TEXT,
  liftLongTexts,
  putBack,
  readLongTextsFast,
  sliceEnd,
} from '../../src/aws/xml-text.js';
import { escapeXml, xmlValue } from '../fakes/aws-wire.js';
import { queryAnswer as answer, startXmlEndpoint, withoutMetadata, type XmlEndpoint } from '../support/xml-answers.js';

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

/** As the SDK's parser: an element's text of only whitespace with a line end in it is no text. */
const asElement = (s: string) => (s.trim() === '' && s.includes('\n') ? '' : s);

describe('decoding in slices', () => {
  it('decodes any texts written any way XML allows, whatever the slice size, as each whole would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary', maxLength: 120 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 1, max: 64 }),
        async (texts, how, slice) => {
          const written = texts.map((s) => encode(s, how));
          for (let i = 0; i < texts.length; i++) expect(decodeXmlText(written[i]!)).toBe(texts[i]);
          expect(await decodeTexts(written, noPause, slice)).toEqual(texts.map(asElement));
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

  it('lets other work run every 32 KB, across texts as within one', async () => {
    let pauses = 0;
    const count = async () => void pauses++;
    expect(await decodeTexts(['x&amp;'.repeat(20_000)], count)).toEqual(['x&'.repeat(20_000)]); // 120,000 characters
    expect(pauses).toBe(3);
    pauses = 0;
    const many = Array.from({ length: 100 }, () => 'y'.repeat(1_000)); // 100,000 characters in all
    expect(await decodeTexts(many, count)).toEqual(many);
    expect(pauses).toBe(3);
  });
});

describe('lifting long texts out', () => {
  const long = 'a&amp;b'.repeat(100); // 700 characters as written
  it.each([
    ['the whole content of an element', `<R><A>${long}</A></R>`, 1],
    ['two of them, and a short one left', `<R><A>${long}</A><B>short</B><C>${long}</C></R>`, 2],
    ['not in an element with attributes', `<R><A x="1">${long}</A></R>`, 0],
    ['not text beside an element', `<R><A>${long}<B/></A></R>`, 0],
    ['not text after an element', `<R><A><B/>${long}</A></R>`, 0],
    ['not CDATA', `<R><A><![CDATA[${long}]]></A></R>`, 0],
    ['nothing when a CDATA section is anywhere', `<R><A><![CDATA[<B>${long}</B>]]></A><C>${long}</C></R>`, 0],
    ['nothing when a comment is anywhere', `<R><!-- <B>${long}</B> --><C>${long}</C></R>`, 0],
  ])('%s', (_name, xml, lifted) => {
    const l = liftLongTexts(xml, 'n0');
    expect(l.texts).toHaveLength(lifted);
    for (const t of l.texts) expect(t).toBe(long);
    expect(l.skeleton.length).toBeLessThan(xml.length - lifted * (LONG_TEXT - 30) + 1);
    // Putting the texts back as written gives the answer back.
    expect(l.texts.reduce((x, t, i) => x.replace(`${l.prefix}${i}`, t), l.skeleton)).toBe(xml);
  });

  it('puts texts back wherever the SDK put their placeholders, and nothing else', () => {
    const prefix = 'promote-bot-lifted-n1-';
    const out = {
      A: `${prefix}0`,
      B: [{ C: `${prefix}1`, D: 'other' }],
      E: 3,
      F: new Date(0),
      G: `${prefix}9`,
    };
    expect(putBack(out, prefix, ['zero', 'one'])).toEqual({
      A: 'zero',
      B: [{ C: 'one', D: 'other' }],
      E: 3,
      F: new Date(0),
      G: `${prefix}9`,
    });
  });
});

describe('through the SDK client', () => {
  let endpoint: XmlEndpoint;
  let fast: CloudFormationClient;
  let plain: CloudFormationClient;
  beforeAll(async () => {
    endpoint = await startXmlEndpoint();
    fast = new CloudFormationClient(endpoint.config);
    readLongTextsFast(fast);
    plain = new CloudFormationClient(endpoint.config);
  });
  afterAll(async () => {
    fast.destroy();
    plain.destroy();
    await endpoint.close();
  });

  const getTemplate = new GetTemplateCommand({ StackName: 's', TemplateStage: 'Original' });

  it('reads any template as the SDK reads it, as CloudFormation escapes it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 0, maxLength: 1_200 }), async (s) => {
        endpoint.answer(
          answer(
            'GetTemplate',
            `<TemplateBody>${escapeXml(s)}</TemplateBody><StagesAvailable><member>Original</member></StagesAvailable>`,
          ),
        );
        expect(withoutMetadata(await fast.send(getTemplate))).toEqual(withoutMetadata(await plain.send(getTemplate)));
      }),
      { numRuns: 100 },
    );
  });

  it('reads a page of changes with long property values as the SDK reads it', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 900 });
    const change = fc.record({ before: text, after: text, context: text, id: fc.string({ maxLength: 20 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 12 }), async (changes) => {
        const result = {
          ChangeSetName: 'cs',
          StackName: 's',
          Status: 'CREATE_COMPLETE',
          Changes: changes.map((c) => ({
            Type: 'Resource',
            ResourceChange: {
              Action: 'Modify',
              LogicalResourceId: c.id,
              ResourceType: 'AWS::IAM::Policy',
              BeforeContext: c.context,
              Details: [{ Target: { Attribute: 'Properties', BeforeValue: c.before, AfterValue: c.after } }],
            },
          })),
        };
        endpoint.answer(answer('DescribeChangeSet', xmlValue(result)));
        const command = new DescribeChangeSetCommand({ ChangeSetName: 'cs', StackName: 's' });
        expect(withoutMetadata(await fast.send(command))).toEqual(withoutMetadata(await plain.send(command)));
      }),
      { numRuns: 60 },
    );
  });

  it('reads a 1 MB JSON template with CR LF line ends byte for byte', async () => {
    const resources: Record<string, unknown> = {};
    for (let i = 0; i < 12_000; i++) {
      resources[`Queue${i}`] = { Type: 'AWS::SQS::Queue', Properties: { QueueName: `q-${i}-<&>"'` } };
    }
    const template = JSON.stringify({ Resources: resources }, null, 1).replace(/\n/g, '\r\n');
    expect(template.length).toBeGreaterThan(1_000_000);
    endpoint.answer(answer('GetTemplate', `<TemplateBody>${escapeXml(template)}</TemplateBody>`));
    expect(await getTemplateBody(fast, 's')).toBe(template);
  });

  it('leaves an answer whose long text is not alone in its element to the SDK', async () => {
    const long = `Resources: {a: "${'<&>'.repeat(300)}"}`;
    endpoint.answer(answer('GetTemplate', `<TemplateBody><![CDATA[${long}]]></TemplateBody>`));
    expect(await getTemplateBody(fast, 's')).toBe(long);
    const markup = `a > b <B>${'b'.repeat(600)}</B>`;
    endpoint.answer(answer('GetTemplate', `<TemplateBody><![CDATA[${markup}]]></TemplateBody>`));
    expect(await getTemplateBody(fast, 's')).toBe(markup);
  });

  it('leaves an error answer to the SDK: the error is CloudFormation’s', async () => {
    endpoint.answer(
      '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>' +
        `<Code>ValidationError</Code><Message>Stack with id s does not exist ${'x'.repeat(600)}</Message></Error>` +
        '<RequestId>r-2</RequestId></ErrorResponse>',
      400,
    );
    const err = await getTemplateBody(fast, 's').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(((err as Error).cause as Error).name).toBe('ValidationError');
    expect((err as Error).message).toContain(`Stack with id s does not exist ${'x'.repeat(600)}`);
  });
});
