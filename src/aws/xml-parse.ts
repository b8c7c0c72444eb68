// CloudFormation's XML answers parsed with native string searches instead of one character at a time.
// The AWS SDK's own XML parser (@aws-sdk/xml-builder ≥ 3.972.31, github.com/aws/aws-sdk-js-v3/pull/7863) builds
// every tag name and text by appending one character after another (`text += x[i++]`), which is slow and leaves
// a string of garbage per character: a DescribeChangeSet page of 500 changes took it 7.6–9.4 ms as the tests' fake
// CloudFormation writes it, 9.7–13.4 ms indented as AWS writes it, where the same algorithm with `indexOf` and
// `slice` takes 3.9–4.3 and 4.1–6.3 ms (ad-hoc script, Node 20, after warm-up; see README, Performance).
// Everything else is the SDK's: parseXmlDocument gives the same result as its parser (the same tree, the same
// quirks: `#text`, repeated tags as arrays, `__proto__`, entities decoded with String.fromCharCode), and the SDK's
// schema-driven deserializer turns that tree into the output.
// What the port does not cover it leaves to the SDK whole: any document with `<!` in it (comments, CDATA,
// DOCTYPE; CloudFormation writes none), and every document it cannot parse, so that a malformed answer fails
// with the SDK's own error. Tests compare the two parsers on generated documents, broken ones included.
//
// It is plugged in through the client's `protocol` option (a class the client instantiates with its
// protocolSettings), whose deserializer's `parseXml` is the protected hook the SDK's XML reading goes through.
import { AwsQueryProtocol, XmlShapeDeserializer } from '@aws-sdk/core/protocols';

/** The SDK's entity pass (AwsXmlParser.decodeEntities): unknown named entities are dropped. */
const ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|([a-zA-Z][a-zA-Z0-9]{0,30}));/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * A copy of `s` that does not hold the document it was cut from. V8 makes a substring of 13 or more characters a
 * view into its parent (a "sliced string"): a stack status kept from an answer would keep the whole answer, up to
 * megabytes, alive. Concatenating flattens into a string of its own, and the slice of that holds only it.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return detached(s);
  const decoded = s.replace(ENTITY, (_, hex?: string, dec?: string, named?: string) => {
    if (hex) return String.fromCharCode(Number.parseInt(hex, 16));
    if (dec) return String.fromCharCode(Number.parseInt(dec, 10));
    return ENTITIES[named!] ?? '';
  });
  // No reference in it: replace gave the slice itself back.
  return decoded === s ? detached(s) : decoded;
}

/** An own, enumerable `__proto__` key, as the SDK's parser makes one (its writeKey). */
function ownProtoKey(obj: object): void {
  Object.defineProperty(obj, '__proto__', { value: undefined, writable: true, enumerable: true, configurable: true });
}

const SPACE = 32;
const TAB = 9;
const LF = 10;
const CR = 13;
const LT = 60;
const GT = 62;
const SLASH = 47;
const EQUALS = 61;
const QUESTION = 63;

const isSpace = (c: number) => c === SPACE || c === TAB || c === LF || c === CR;

class MalformedXml extends Error {}

interface Element {
  tag: string;
  value: unknown;
}

/**
 * The tree @aws-sdk/xml-builder's parseXML gives for `input` (`{ [rootTag]: value }`), or undefined when the
 * document has a comment, CDATA section or DOCTYPE (`<!`), which this port leaves to the SDK. Throws on a document
 * the SDK's parser would refuse (and possibly on some it would take: callers fall back to it on any error).
 */
export function parseXmlDocument(input: string): Record<string, unknown> | undefined {
  if (input.includes('<!')) return undefined;
  const x = input.includes('\r') ? input.replace(/\r\n?/g, '\n') : input;
  const z = x.length;
  let i = 0;

  const skipSpace = () => {
    while (i < z && isSpace(x.charCodeAt(i))) i++;
  };
  const readTo = (stop: string) => {
    const at = x.indexOf(stop, i);
    if (at < 0) throw new MalformedXml(`expected "${stop}"`);
    const read = x.slice(i, at);
    i = at + stop.length;
    return read;
  };

  const parseTag = (): Element => {
    i++;
    let from = i;
    while (i < z) {
      const c = x.charCodeAt(i);
      if (isSpace(c) || c === GT || c === SLASH) break;
      i++;
    }
    const tag = x.slice(from, i);
    let attrs: Record<string, string> | undefined;
    while (i < z) {
      skipSpace();
      const c = x.charCodeAt(i);
      if (c === GT || c === SLASH) break;
      from = i;
      while (i < z) {
        const d = x.charCodeAt(i);
        if (d === EQUALS || isSpace(d) || d === GT || d === SLASH || d === QUESTION) break;
        i++;
      }
      const name = x.slice(from, i);
      skipSpace();
      if (x.charCodeAt(i) !== EQUALS) break;
      i++;
      skipSpace();
      // The value runs to the next occurrence of whatever character opens it, as in the SDK's readAttrValue.
      const quote = x[i];
      i++;
      let end = quote === undefined ? -1 : x.indexOf(quote, i);
      if (end < 0) end = z;
      const value = x.slice(i, end);
      i = end + 1;
      attrs ??= {};
      if (name === '__proto__') ownProtoKey(attrs);
      attrs[name] = decodeEntities(value);
    }
    if (i >= z) throw new MalformedXml('unexpected end of input');
    if (x.charCodeAt(i) === SLASH) {
      i++;
      if (i >= z || x.charCodeAt(i) !== GT) throw new MalformedXml('expected > at the end of a self-closing tag');
      i++;
      return { tag, value: attrs ?? '' };
    }
    if (x.charCodeAt(i) !== GT) throw new MalformedXml('expected > at the end of an opening tag');
    i++;

    const texts: string[] = [];
    const children: Element[] = [];
    while (i < z) {
      if (x.charCodeAt(i) === LT) {
        const next = x.charCodeAt(i + 1);
        if (next === SLASH) break;
        if (next === QUESTION) readTo('?>');
        else children.push(parseTag());
      } else {
        let end = x.indexOf('<', i);
        if (end < 0) end = z;
        texts.push(decodeEntities(x.slice(i, end)));
        i = end;
      }
    }
    if (!x.startsWith('</', i)) throw new MalformedXml(`missing closing tag </${tag}>`);
    i += 2;
    if (readTo('>').trim() !== tag) throw new MalformedXml(`mismatched closing tag of <${tag}>`);

    if (!attrs && texts.length === 0 && children.length === 0) return { tag, value: '' };
    if (!attrs && children.length === 0) {
      const text = texts.length === 1 ? texts[0]! : texts.join('');
      return { tag, value: text.trim() === '' && text.includes('\n') ? '' : text };
    }
    const obj: Record<string, unknown> = {};
    for (const text of texts) {
      if (text.trim() === '' && text.includes('\n')) continue;
      obj['#text'] = '#text' in obj ? (obj['#text'] as string) + text : text;
    }
    for (const child of children) {
      if (child.tag === '__proto__') ownProtoKey(obj);
      // `in`, not an own-property test, as the SDK's parser does (a child named `constructor` becomes a list).
      if (child.tag in obj) {
        const held = obj[child.tag];
        if (Array.isArray(held)) held.push(child.value);
        else obj[child.tag] = [held, child.value];
      } else {
        obj[child.tag] = child.value;
      }
    }
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (k === '__proto__') ownProtoKey(obj);
        obj[k] = v;
      }
    }
    return { tag, value: obj };
  };

  while (i < z) {
    skipSpace();
    if (i >= z) break;
    if (x.startsWith('<?', i)) {
      readTo('?>');
      skipSpace();
    } else if (x.charCodeAt(i) === LT) {
      const root = parseTag();
      return { [root.tag]: root.value };
    } else {
      throw new MalformedXml('unexpected content');
    }
  }
  throw new MalformedXml('no root element');
}

const TEXT = '#text';
const hasOwn = (obj: object, key: string) => Object.hasOwn(obj, key);

/** @smithy/core's getValueFromTextNode, which the SDK's parseXml applies to the tree: `{ '#text': v }` → v. */
function valueFromTextNode(obj: Record<string, unknown>): Record<string, unknown> {
  for (const key in obj) {
    if (!hasOwn(obj, key)) continue;
    const value = obj[key] as Record<string, unknown>;
    if (value[TEXT] !== undefined) obj[key] = value[TEXT];
    else if (typeof value === 'object' && value !== null) obj[key] = valueFromTextNode(value);
  }
  return obj;
}

/** The SDK's XML deserializer reading documents with parseXmlDocument; whatever that leaves goes to the SDK's. */
export class FastXmlShapeDeserializer extends XmlShapeDeserializer {
  protected override parseXml(xml: string): unknown {
    let tree: Record<string, unknown> | undefined;
    try {
      tree = xml.length ? parseXmlDocument(xml) : undefined;
    } catch {
      tree = undefined;
    }
    if (tree === undefined) return super.parseXml(xml);
    // As XmlShapeDeserializer.parseXml does with the tree of its parser.
    const root = tree[Object.keys(tree)[0]!] as Record<string, unknown>;
    if (root[TEXT]) {
      root[Object.keys(tree)[0]!] = root[TEXT];
      delete root[TEXT];
    }
    return valueFromTextNode(root);
  }
}

/** AWS Query (CloudFormation's protocol) with FastXmlShapeDeserializer; pass as a client's `protocol`. */
export class FastXmlQueryProtocol extends AwsQueryProtocol {
  constructor(options: ConstructorParameters<typeof AwsQueryProtocol>[0]) {
    super(options);
    this.deserializer = new FastXmlShapeDeserializer(this.deserializer.settings);
  }
}
