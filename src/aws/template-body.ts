// A GetTemplate answer read without the AWS SDK's XML parser. Since @aws-sdk/xml-builder 3.972.31 the SDK parses
// XML with its own parser (github.com/aws/aws-sdk-js-v3/pull/7863), which builds a text node one character at a
// time and decodes its entities with a regular-expression callback per entity. A template is one text node
// of up to 1 MB (CloudFormation's limit for a template in S3), and a JSON template has an entity for every quote:
// measured on Node 20, the SDK took 220–360 ms of one uninterrupted task to parse a GetTemplate answer of a 1 MB JSON
// template (75–105 ms at 450 KB), every Slack request of the replica waiting meanwhile, and a promotion reads
// templates up to four times. Here the TemplateBody element is cut out of the answer and decoded in a few passes
// of native string code, 32 KB at a time with the event loop free in between (1.35 MB with a CRLF on every line:
// 70–90 ms of CPU in all, at most 7–22 ms at once; the SDK took 300–470 ms in one go); the SDK parses what is left
// (the stages, the request ID). An answer of any other shape (no TemplateBody, markup or CDATA inside it) and every
// error answer go to the SDK as they came.
import type { GetTemplateCommand } from '@aws-sdk/client-cloudformation';

const OPEN = '<TemplateBody>';
const CLOSE = '</TemplateBody>';

/** The five entities XML predefines (w3.org/TR/xml/#sec-predefined-ent). */
const PREDEFINED = /&(?:quot|amp|lt|gt|apos);/;
/** A named entity other than those: the SDK drops them, and so does decodeXmlText (by the SDK's own pass). */
const OTHER_NAMED = /&(?!(?:quot|amp|lt|gt|apos);)[a-zA-Z][a-zA-Z0-9]{0,30};/;
const NUMERIC = /&#(?:x([0-9a-fA-F]{1,6})|(\d{1,7}));/g;
/** The SDK's own single pass (@aws-sdk/xml-builder, AwsXmlParser.decodeEntities), for the rare text that needs it. */
const ANY_ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|([a-zA-Z][a-zA-Z0-9]{0,30}));/g;
const NAMED: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" };

function charOf(code: number): string {
  // A character reference beyond Unicode is not well-formed XML; the SDK answers String.fromCharCode's 16 bits.
  return code <= 0x10ffff ? String.fromCodePoint(code) : String.fromCharCode(code);
}

/**
 * The text of an XML element with its character and entity references replaced, once each: `&amp;lt;` is `&lt;`,
 * `&#38;lt;` too. Line ends are normalised as an XML parser does (CR LF and CR become LF; a `&#13;` stays a CR).
 */
export function decodeXmlText(raw: string): string {
  const s = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  if (!s.includes('&')) return s;
  if (OTHER_NAMED.test(s)) {
    return s.replace(ANY_ENTITY, (_, hex?: string, dec?: string, named?: string) =>
      hex || dec ? charOf(Number.parseInt((hex ?? dec)!, hex ? 16 : 10)) : (NAMED[named!] ?? ''),
    );
  }
  // Character references first; one that means `&` becomes `&amp;`, which the last pass turns into the `&`, so that
  // nothing a pass produces is read again by a later one.
  let t = s.includes('&#')
    ? s.replace(NUMERIC, (_, hex?: string, dec?: string) => {
        const c = charOf(Number.parseInt((hex ?? dec)!, hex ? 16 : 10));
        return c === '&' ? '&amp;' : c;
      })
    : s;
  if (!PREDEFINED.test(t)) return t;
  t = t.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&apos;', "'");
  return t.replaceAll('&amp;', '&');
}

/** Where a TemplateBody element's text is in a GetTemplate answer, or undefined when the answer does not have
 * exactly one TemplateBody element of plain text (markup, a comment or CDATA inside it: the SDK's parser knows them). */
export function templateBodySpan(xml: string): { start: number; end: number } | undefined {
  const open = xml.indexOf(OPEN);
  if (open < 0 || xml.indexOf(OPEN, open + 1) >= 0) return undefined;
  const start = open + OPEN.length;
  const end = xml.indexOf(CLOSE, start);
  if (end < 0 || xml.indexOf(CLOSE, end + 1) >= 0) return undefined;
  const lt = xml.indexOf('<', start);
  return lt < end ? undefined : { start, end };
}

/** Characters of text decoded in one go: about 2 ms of work, between which other work of the process runs. */
export const SLICE_CHARS = 32 * 1024;

/**
 * Where to end a slice of `text` that starts at `from` and may end at `limit`: never inside a reference (`&…;`) nor
 * between the CR and LF of a line end, so that each slice decodes alone as it would in the whole. Always past `from`.
 */
export function sliceEnd(text: string, from: number, limit: number): number {
  if (limit >= text.length) return text.length;
  let end = limit;
  const amp = text.lastIndexOf('&', end - 1);
  if (amp >= from) {
    const semi = text.indexOf(';', amp);
    // A reference across the cut: cut before it, or take it whole when the slice would be empty.
    if (semi >= end) end = amp > from ? amp : semi + 1;
  }
  if (end < text.length && text.charCodeAt(end - 1) === 13 && text.charCodeAt(end) === 10) {
    end = end - 1 > from ? end - 1 : end + 1;
  }
  return end;
}

/**
 * The element's text decoded (decodeXmlText) in slices of SLICE_CHARS, `pause` between them, so that a megabyte of
 * template does not hold the process for one long task.
 */
export async function decodeInSlices(
  text: string,
  pause: () => Promise<void>,
  sliceChars = SLICE_CHARS,
): Promise<string> {
  const parts: string[] = [];
  for (let from = 0; from < text.length; ) {
    const end = sliceEnd(text, from, from + sliceChars);
    if (from > 0) await pause();
    parts.push(decodeXmlText(text.slice(from, end)));
    from = end;
  }
  const decoded = parts.join('');
  // As the SDK's parser does: text of only whitespace with a line end in it is no text.
  return decoded.trim() === '' && decoded.includes('\n') ? '' : decoded;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Stack = InstanceType<typeof GetTemplateCommand>['middlewareStack'];
type Middleware = Parameters<Stack['add']>[0];

interface RawResponse {
  statusCode: number;
  body?: unknown;
}

function isRawResponse(r: unknown): r is RawResponse {
  return typeof (r as RawResponse | undefined)?.statusCode === 'number';
}

async function readAll(body: unknown): Promise<Buffer | undefined> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (!body || typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Adds to one GetTemplateCommand a step that takes its TemplateBody out of the answer before the SDK parses it;
 * `body()` answers it after `send` (undefined when the SDK parsed the answer itself).
 */
export function readTemplateBodyFast(command: InstanceType<typeof GetTemplateCommand>): {
  body: () => string | undefined;
} {
  let body: string | undefined;
  const middleware: Middleware = (next) => async (args) => {
    body = undefined;
    const out = await next(args);
    const res = out.response;
    if (!isRawResponse(res) || res.statusCode < 200 || res.statusCode >= 300) return out;
    const bytes = await readAll(res.body);
    if (!bytes) return out;
    const xml = bytes.toString('utf8');
    const span = templateBodySpan(xml);
    if (!span) {
      res.body = bytes;
      return out;
    }
    body = await decodeInSlices(xml.slice(span.start, span.end), nextTurn);
    res.body = Buffer.from(xml.slice(0, span.start) + xml.slice(span.end));
    return out;
  };
  // In the deserialize step after the SDK's deserializer (priority low): `next` sends the request, and what this
  // returns is what the deserializer parses (smithy-lang.github.io/smithy-typescript, middleware steps).
  command.middlewareStack.add(middleware, { step: 'deserialize', priority: 'low', name: 'promoteBotTemplateBody' });
  return { body: () => body };
}
