// Wire-level helpers for the fake AWS endpoint: the awsQuery form encoding (CloudFormation, STS),
// its XML responses and errors, the SigV4 credential scope, and S3's aws-chunked upload framing.
import { randomUUID } from 'node:crypto';

/** An error the fake answers with, as the real service would (code, HTTP status, fault type). */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

export const validationError = (message: string) => new AwsError('ValidationError', message);

export type Params = Record<string, string>;

/** Flat awsQuery parameters (`Parameters.member.1.ParameterKey=…`) as a plain record. */
export function parseForm(body: string): Params {
  const out: Params = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** `Prefix.member.N` values in N order. The SDK sends `Prefix=` for an empty list, which yields []. */
export function memberList(p: Params, prefix: string): string[] {
  const re = new RegExp(`^${escapeRe(prefix)}\\.member\\.(\\d+)$`);
  return Object.entries(p)
    .flatMap(([k, v]) => {
      const m = re.exec(k);
      return m ? [[Number(m[1]), v] as const] : [];
    })
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v);
}

/** `Prefix.member.N.Field` structures in N order. */
export function memberStructs(p: Params, prefix: string): Params[] {
  const re = new RegExp(`^${escapeRe(prefix)}\\.member\\.(\\d+)\\.(.+)$`);
  const byIndex = new Map<number, Params>();
  for (const [k, v] of Object.entries(p)) {
    const m = re.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    const entry = byIndex.get(i) ?? {};
    entry[m[2]!] = v;
    byIndex.set(i, entry);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function escapeXml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // XML parsers normalise CR/CRLF to LF; a template body must come back byte for byte.
      .replace(/\r/g, '&#13;')
      // Other C0 controls are not allowed in XML 1.0 at all.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/**
 * awsQuery XML for a value: objects become child elements, arrays become `<member>` elements
 * (the default, non-flattened list encoding), Dates ISO 8601, undefined is left out.
 */
export function xmlValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((item) => `<member>${xmlValue(item)}</member>`).join('');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined && x !== null)
      .map(([k, x]) => `<${k}>${xmlValue(x)}</${k}>`)
      .join('');
  }
  return escapeXml(String(v));
}

/**
 * XML indented as AWS writes its Query answers (the response examples of the CloudFormation API Reference): each
 * element on a line of its own, two spaces a level, an element of only text on one line. Only for markup whose
 * texts are escaped (no `<` or `>` in them), as xmlValue writes it.
 */
export function indentXml(xml: string): string {
  const tokens = xml.match(/<[^>]*>|[^<]+/g) ?? [];
  const lines: string[] = [];
  let depth = 0;
  const isOpening = (t: string | undefined) => t?.startsWith('<') && !/^<[/?]/.test(t) && !t.endsWith('/>');
  const isClosing = (t: string | undefined) => t?.startsWith('</') ?? false;
  const isText = (t: string | undefined) => t !== undefined && !t.startsWith('<');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const pad = '  '.repeat(depth);
    if (t.startsWith('<?')) lines.push(t);
    else if (isOpening(t) && isText(tokens[i + 1]) && isClosing(tokens[i + 2])) {
      lines.push(pad + t + tokens[i + 1] + tokens[i + 2]);
      i += 2;
    } else if (isOpening(t) && isClosing(tokens[i + 1])) {
      lines.push(pad + t + tokens[i + 1]);
      i += 1;
    } else if (isOpening(t)) {
      lines.push(pad + t);
      depth++;
    } else if (isClosing(t)) {
      depth--;
      lines.push('  '.repeat(depth) + t);
    } else if (t.startsWith('<')) lines.push(pad + t);
    else if (t.trim() !== '') lines.push(pad + t);
  }
  return `${lines.join('\n')}\n`;
}

export function queryResponse(action: string, xmlns: string, result: object | undefined, requestId: string): string {
  const inner = result === undefined ? '' : `<${action}Result>${xmlValue(result)}</${action}Result>`;
  return indentXml(
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${xmlns}">${inner}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

export function queryErrorBody(err: AwsError, xmlns: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlns}"><Error><Type>${err.type}</Type>` +
    `<Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/** S3 (restXml) errors have no ErrorResponse wrapper. */
export function s3ErrorBody(err: AwsError, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message><RequestId>${requestId}</RequestId></Error>`
  );
}

export interface CredentialScope {
  accessKeyId: string;
  region: string;
  service: string;
}

/**
 * The SigV4 credential scope from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …`
 * or, for presigned URLs, from the `X-Amz-Credential` query parameter. Signatures are not checked.
 */
export function credentialScope(
  authorization: string | undefined,
  query: URLSearchParams,
): CredentialScope | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  if (!credential) return undefined;
  const [accessKeyId, , region, service] = credential.split('/');
  if (!accessKeyId || !region || !service) return undefined;
  return { accessKeyId, region, service };
}

/**
 * Decodes S3's aws-chunked framing (`<hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n\r\n`),
 * which recent SDKs use for uploads with a trailing checksum.
 */
export function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < body.length) {
    const eol = body.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = Number.parseInt(body.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export const requestId = () => randomUUID();
