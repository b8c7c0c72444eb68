// Long texts of CloudFormation's answers read without the AWS SDK's XML parser. Since @aws-sdk/xml-builder 3.972.31
// the SDK parses XML with its own parser (github.com/aws/aws-sdk-js-v3/pull/7863), which builds each text node one
// character at a time and decodes its entities with a regular-expression callback per entity: fine for short
// fields, slow for long ones, and all of it one uninterrupted task. Two answers carry long texts: GetTemplate (the
// template, up to 1 MB; a JSON template has an entity for every quote) and DescribeChangeSet with property values
// (each change's BeforeValue, AfterValue, BeforeContext, AfterContext). Measured on Node 20 (ad-hoc scripts), the SDK
// held the event loop 220–470 ms for a GetTemplate answer of a 1 MB template, 135–305 ms for a page of 500 changes
// with 300-character values (1.5 MB), 600–1,200 ms with 2,000-character ones (8 MB), every Slack request of the
// replica waiting meanwhile.
//
// Here every text of more than LONG_TEXT characters that is the whole content of an element is lifted out of the
// answer before the SDK parses it, replaced by a placeholder; the SDK parses the rest (the structure, the short
// fields); the long texts are decoded in native string passes, 32 KB at a time with the event loop free in
// between, and put back in place of their placeholders in the SDK's output. Error answers go to the SDK as they came.
import { randomBytes } from 'node:crypto';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { detached } from './xml-parse.js';

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
 * Elements' texts decoded (decodeXmlText), SLICE_CHARS characters at a time across all of them, `pause` between
 * slices, so that megabytes of text do not hold the process for one long task. As the SDK's parser does, a text of
 * only whitespace with a line end in it is no text.
 */
export async function decodeTexts(
  texts: readonly string[],
  pause: () => Promise<void>,
  sliceChars = SLICE_CHARS,
): Promise<string[]> {
  const out: string[] = [];
  let sincePause = 0;
  for (const text of texts) {
    const parts: string[] = [];
    for (let from = 0; from < text.length; ) {
      if (sincePause >= sliceChars) {
        await pause();
        sincePause = 0;
      }
      const end = sliceEnd(text, from, from + sliceChars - sincePause);
      parts.push(decodeXmlText(text.slice(from, end)));
      sincePause += end - from;
      from = end;
    }
    // A text that decoded to itself would still be a view into the whole answer (see detached).
    const decoded = parts.length === 1 ? detached(parts[0]!) : parts.join('');
    out.push(decoded.trim() === '' && decoded.includes('\n') ? '' : decoded);
  }
  return out;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const randomNonce = () => randomBytes(8).toString('hex');

/** Texts longer than this are lifted out (characters as written, entities included). */
export const LONG_TEXT = 512;

/** An element with no attributes, as an opening tag: `<Name>`. */
const OPENING_TAG = /^<([A-Za-z_][\w.:-]*)>$/;

export interface LiftedTexts {
  /** the answer with each long text replaced by `${prefix}${index}` */
  skeleton: string;
  prefix: string;
  /** the long texts as written (not decoded) */
  texts: string[];
}

/**
 * Lifts out of an XML document each text longer than `longer` characters that is the whole content of an element
 * without attributes (`<Name>text</Name>`): nothing else is in that element, so the SDK reads its placeholder as
 * the element's value, nothing more. `nonce` makes the placeholders unlike any text of the answer.
 */
export function liftLongTexts(xml: string, nonce: string, longer = LONG_TEXT): LiftedTexts {
  const prefix = `promote-bot-lifted-${nonce}-`;
  const texts: string[] = [];
  // Inside a CDATA section or a comment, markup is text: what looks like an element there is none. CloudFormation
  // writes neither; an answer that has one goes to the SDK whole.
  if (xml.includes('<![CDATA[') || xml.includes('<!--')) return { skeleton: xml, prefix, texts };
  const parts: string[] = [];
  let copied = 0;
  for (let lt = xml.indexOf('<'); lt >= 0; ) {
    const gt = xml.indexOf('>', lt);
    if (gt < 0) break;
    const next = xml.indexOf('<', gt + 1);
    if (next < 0) break;
    if (next - gt - 1 > longer) {
      const open = OPENING_TAG.exec(xml.slice(lt, gt + 1));
      if (open && xml.startsWith(`</${open[1]}>`, next)) {
        parts.push(xml.slice(copied, gt + 1), `${prefix}${texts.length}`);
        texts.push(xml.slice(gt + 1, next));
        copied = next;
      }
    }
    lt = next;
  }
  if (!texts.length) return { skeleton: xml, prefix, texts };
  parts.push(xml.slice(copied));
  return { skeleton: parts.join(''), prefix, texts };
}

/** Replaces, in the SDK's output, each string that is a placeholder by its text. */
export function putBack(output: unknown, prefix: string, texts: readonly string[]): unknown {
  if (typeof output === 'string') {
    if (!output.startsWith(prefix)) return output;
    const text = texts[Number(output.slice(prefix.length))];
    return text ?? output;
  }
  if (Array.isArray(output)) {
    for (let i = 0; i < output.length; i++) output[i] = putBack(output[i], prefix, texts);
    return output;
  }
  if (output && typeof output === 'object' && !(output instanceof Date) && !(output instanceof Uint8Array)) {
    const o = output as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = putBack(o[k], prefix, texts);
  }
  return output;
}

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

const LIFTED = Symbol('promote-bot lifted texts');

interface Lifted {
  prefix: string;
  texts: string[];
}

/**
 * Adds the two steps to a CloudFormation client: one just before the SDK's deserializer reads the answer (it
 * lifts the long texts out and decodes them), one just after it (it puts them back). Steps and priorities:
 * smithy-lang.github.io/smithy-typescript (middleware stack; "deserialize" step).
 */
export function readLongTextsFast(client: CloudFormationClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const lifted = (context as Record<symbol, Lifted | undefined>)[LIFTED];
      if (lifted) {
        (context as Record<symbol, Lifted | undefined>)[LIFTED] = undefined;
        putBack(out.output, lifted.prefix, lifted.texts);
      }
      return out;
    },
    { step: 'deserialize', priority: 'high', name: 'promoteBotPutLongTextsBack' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const res = out.response;
      if (!isRawResponse(res) || res.statusCode < 200 || res.statusCode >= 300) return out;
      const bytes = await readAll(res.body);
      if (!bytes) return out;
      const lifted = liftLongTexts(bytes.toString('utf8'), randomNonce());
      if (!lifted.texts.length) {
        res.body = bytes;
        return out;
      }
      const texts = await decodeTexts(lifted.texts, nextTurn);
      (context as Record<symbol, Lifted | undefined>)[LIFTED] = { prefix: lifted.prefix, texts };
      res.body = Buffer.from(lifted.skeleton);
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'promoteBotLiftLongTexts' },
  );
}
