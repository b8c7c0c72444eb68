// CloudFormation's XML answers parsed by src/aws/xml-parse.ts against the SDK's own parser (@aws-sdk/xml-builder's
// parseXML, the oracle, and the SDK's deserializer around it): the same tree for any generated document, the SDK's
// quirks included; for a broken document never a tree where the SDK's parser has an error; and through real SDK
// clients over HTTP, the same output as a client with the SDK's own protocol.
import { isDeepStrictEqual } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CloudFormationClient, DescribeChangeSetCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { XmlShapeDeserializer } from '@aws-sdk/core/protocols';
import { parseXML } from '@aws-sdk/xml-builder';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients.js';
import { FastXmlQueryProtocol, FastXmlShapeDeserializer, parseXmlDocument } from '../../src/aws/xml-parse.js';
import { decodeTexts, liftLongTexts, readLongTextsFast } from '../../src/aws/xml-text.js';
import { xmlValue } from '../fakes/aws-wire.js';
import { queryAnswer, startXmlEndpoint, withoutMetadata, type XmlEndpoint } from '../support/xml-answers.js';

const settings = {
  timestampFormat: { useTrait: true, default: 5 as const },
  httpBindings: false,
  xmlNamespace: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
  serviceNamespace: 'com.amazonaws.cloudformation',
};

/** The SDK's deserializer's reading of a document (XmlShapeDeserializer.parseXml: the tree, then its `#text`s), and ours. */
class SdkReader extends XmlShapeDeserializer {
  readDocument(xml: string): unknown {
    return this.parseXml(xml);
  }
}
class FastReader extends FastXmlShapeDeserializer {
  readDocument(xml: string): unknown {
    return this.parseXml(xml);
  }
}
const sdk = new SdkReader(settings);
const fast = new FastReader(settings);

/**
 * A value as data: own keys in order, and a prototype other than Object's or Array's (the SDK's parseXml sets one
 * when the root element is named `__proto__`) by its content, not its identity.
 */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v !== 'object' || v === null) return v;
  const proto = Object.getPrototypeOf(v);
  return {
    own: Object.keys(v).map((k) => [k, shape((v as Record<string, unknown>)[k])]),
    proto: proto === Object.prototype || proto === null ? proto : shape(proto),
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
const outcome = (f: () => unknown): Outcome => {
  try {
    return { ok: true, value: shape(f()) };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
};

/** Text as CloudFormation or anyone else might write it: entities known and unknown, stray & ; > and line ends. */
const text = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      ' ',
      '\n',
      '\r\n',
      '\r',
      '\t',
      '&amp;',
      '&lt;',
      '&gt;',
      '&quot;',
      '&apos;',
      '&#38;',
      '&#x41;',
      '&#x1F600;',
      '&#99999999;',
      '&nbsp;',
      '&',
      ';',
      '>',
      '"',
      "'",
      '=',
      '/',
      '?',
      'é',
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const tagName = fc.constantFrom('a', 'B', 'member', 'Changes', '__proto__', 'constructor', 'toString', '#text', 'x:y');
const attribute = fc.tuple(
  fc.constantFrom('xmlns', 'id', '__proto__', 'a', '#text'),
  fc.constantFrom('"', "'"),
  text,
  fc.constantFrom('', ' ', '\n'),
);

const { element } = fc.letrec<{ element: string; content: string }>((tie) => ({
  element: fc
    .tuple(tagName, fc.array(attribute, { maxLength: 2 }), fc.boolean(), tie('content'), fc.constantFrom('', ' ', '\n'))
    .map(([tag, attrs, selfClosing, content, closeSpace]) => {
      const open = `<${tag}${attrs.map(([n, q, v, s]) => ` ${n}${s}=${s}${q}${v.replaceAll(q, '')}${q}`).join('')}`;
      return selfClosing ? `${open}/>` : `${open}>${content}</${tag}${closeSpace}>`;
    }),
  content: fc
    .array(
      fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        text.map((t) => t.replaceAll('<', '')),
        tie('element'),
        fc.constant('<?pi data?>'),
      ),
      { maxLength: 4 },
    )
    .map((items) => items.join('')),
}));

const document = fc
  .tuple(
    fc.constantFrom('', '<?xml version="1.0" encoding="UTF-8"?>\n', ' \n'),
    element,
    fc.constantFrom('', '\n', 'x'),
  )
  .map(([prolog, root, trailer]) => `${prolog}${root}${trailer}`);

/** One edit that may break a document: a character dropped or added, or the end cut off. */
const broken = fc
  .tuple(document, fc.nat(), fc.constantFrom('drop', 'cut', '<', '>', '/', '"', '=', '?', ' ', '</a>'))
  .map(([doc, at, edit]) => {
    const i = doc.length ? at % doc.length : 0;
    if (edit === 'drop') return doc.slice(0, i) + doc.slice(i + 1);
    if (edit === 'cut') return doc.slice(0, i);
    return doc.slice(0, i) + edit + doc.slice(i);
  });

describe('parseXmlDocument', () => {
  /** The tree and the deserializer's reading equal the SDK's, or both fail alike. */
  const sameAsSdk = (doc: string) => {
    const tree = outcome(() => parseXML(doc));
    const ours = outcome(() => parseXmlDocument(doc));
    if (tree.ok) expect(isDeepStrictEqual(ours, tree), `${JSON.stringify(ours)} ≠ ${JSON.stringify(tree)}`).toBe(true);
    else expect(!ours.ok || ours.value === undefined, `read ${JSON.stringify(doc)}`).toBe(true);
    const expected = outcome(() => sdk.readDocument(doc));
    const got = outcome(() => fast.readDocument(doc));
    expect(isDeepStrictEqual(got, expected), `${JSON.stringify(got)} ≠ ${JSON.stringify(expected)}`).toBe(true);
    return tree.ok;
  };

  it('reads any document as the SDK does', () => {
    fc.assert(
      fc.property(document, (doc) => {
        expect(sameAsSdk(doc)).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });

  it('never reads a document the SDK refuses, and reads the rest as it does', () => {
    let refused = 0;
    fc.assert(
      fc.property(broken, (doc) => {
        if (!sameAsSdk(doc)) refused++;
      }),
      { numRuns: 3_000 },
    );
    // The edits do break documents (else the property above would test little).
    expect(refused).toBeGreaterThan(500);
  });

  it.each([
    ['repeated tags become a list', '<r><m>1</m><m>2</m><m>3</m></r>', { r: { m: ['1', '2', '3'] } }],
    ['an element of only whitespace with a line end is empty', '<r><a> \n </a><b> </b></r>', { r: { a: '', b: ' ' } }],
    ['text beside elements is #text', '<r>x<a>1</a>y</r>', { r: { '#text': 'xy', a: '1' } }],
    ['attributes are read as members', '<r id="1" v=\'a&amp;b\'/>', { r: { id: '1', v: 'a&b' } }],
    ['unknown named entities are dropped', '<r>a&nbsp;b</r>', { r: 'ab' }],
    ['a character reference beyond 16 bits is cut to 16, as the SDK does', '<r>&#x1F600;</r>', { r: '\uf600' }],
    ['CR LF becomes LF', '<r>a\r\nb\rc</r>', { r: 'a\nb\nc' }],
    ['a processing instruction inside is skipped', '<r>a<?p x?>b</r>', { r: 'ab' }],
  ])('%s', (_name, doc, tree) => {
    expect(parseXmlDocument(doc)).toEqual(tree);
  });

  it('leaves a document with a comment, a CDATA section or a DOCTYPE to the SDK', () => {
    for (const doc of [
      '<r><!-- c --><a>1</a></r>',
      '<r><a><![CDATA[<x>&amp;]]></a></r>',
      '<!DOCTYPE r><r><a>1</a></r>',
    ]) {
      expect(parseXmlDocument(doc)).toBeUndefined();
      expect(fast.readDocument(doc)).toEqual(sdk.readDocument(doc));
    }
  });

  it('gives a broken answer the SDK’s own error', () => {
    const doc = '<DescribeStacksResponse><DescribeStacksResult></DescribeStacksResponse>';
    const expected = outcome(() => sdk.readDocument(doc));
    expect(expected.ok).toBe(false);
    expect(outcome(() => fast.readDocument(doc))).toEqual(expected);
  });
});

describe('values taken from an answer', () => {
  // V8 makes a substring a view into its parent: a value kept from an answer must not keep the answer alive.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** Heap growth, in MB, while `n` answers of 200 KB are read and one short value of each is kept. */
  const growthKeeping = async (read: (doc: string) => Promise<string>, n = 50) => {
    const kept: string[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) {
      kept.push(await read(`<r><id>stack-${i}-${'v'.repeat(600)}</id><pad>${'x'.repeat(200_000 + i)}</pad></r>`));
    }
    gc();
    expect(new Set(kept).size).toBe(n);
    return (process.memoryUsage().heapUsed - before) / 1e6;
  };

  it('keep no answer alive, parsed (50 answers of 200 KB: 10 MB if they did)', async () => {
    const growth = await growthKeeping(async (doc) => (parseXmlDocument(doc) as { r: { id: string } }).r.id);
    expect(growth).toBeLessThan(3);
  });

  it('keep no answer alive, lifted as long texts', async () => {
    const growth = await growthKeeping(async (doc) => {
      const lifted = liftLongTexts(doc, 'n');
      return (await decodeTexts(lifted.texts, () => Promise.resolve()))[0]!;
    });
    expect(growth).toBeLessThan(3);
  });
});

describe('through the SDK client', () => {
  let endpoint: XmlEndpoint;
  let ours: CloudFormationClient;
  let plain: CloudFormationClient;
  beforeAll(async () => {
    endpoint = await startXmlEndpoint();
    ours = new CloudFormationClient({ ...endpoint.config, protocol: FastXmlQueryProtocol });
    readLongTextsFast(ours);
    plain = new CloudFormationClient(endpoint.config);
  });
  afterAll(async () => {
    ours.destroy();
    plain.destroy();
    await endpoint.close();
  });

  // AWS writes its answers indented, one element a line.
  const answer = (action: string, result: string, indent: boolean) => {
    const xml = queryAnswer(action, result);
    return indent ? xml.replace(/></g, '>\n  <') : xml;
  };
  const value = fc.string({ unit: 'binary', maxLength: 700 });

  it('reads pages of changes as the SDK does, as CloudFormation writes them, indented or not', async () => {
    const change = fc.record({
      id: fc.string({ maxLength: 20 }),
      action: fc.constantFrom('Add', 'Modify', 'Remove', 'Dynamic'),
      replacement: fc.constantFrom('True', 'False', 'Conditional'),
      before: value,
      after: value,
      details: fc.nat({ max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 15 }), fc.boolean(), async (changes, indent) => {
        const result = {
          ChangeSetName: 'cs',
          StackName: 's',
          Status: 'CREATE_COMPLETE',
          CreationTime: new Date(1_700_000_000_000),
          IncludeNestedStacks: 'false',
          Changes: changes.map((c) => ({
            Type: 'Resource',
            ResourceChange: {
              Action: c.action,
              LogicalResourceId: c.id,
              ResourceType: 'AWS::IAM::Policy',
              Replacement: c.replacement,
              Scope: ['Properties', 'Tags'],
              Details: Array.from({ length: c.details }, (_, k) => ({
                Target: { Attribute: 'Properties', Name: `P${k}`, BeforeValue: c.before, AfterValue: c.after },
                Evaluation: 'Static',
              })),
            },
          })),
          NextToken: 'more',
        };
        endpoint.answer(answer('DescribeChangeSet', xmlValue(result), indent));
        const command = new DescribeChangeSetCommand({ ChangeSetName: 'cs', StackName: 's' });
        expect(withoutMetadata(await ours.send(command))).toEqual(withoutMetadata(await plain.send(command)));
      }),
      { numRuns: 80 },
    );
  });

  it('reads stacks with outputs, parameters and dates as the SDK does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(value, value), { maxLength: 6 }), fc.boolean(), async (pairs, indent) => {
        const stack = {
          StackName: 's',
          StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/s/1',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(1_700_000_000_000),
          LastUpdatedTime: new Date(1_700_000_123_456),
          DisableRollback: 'false',
          Parameters: pairs.map(([k, v]) => ({ ParameterKey: k, ParameterValue: v })),
          Outputs: pairs.map(([k, v]) => ({ OutputKey: k, OutputValue: v, Description: k })),
          Tags: [],
        };
        endpoint.answer(answer('DescribeStacks', xmlValue({ Stacks: [stack, stack] }), indent));
        const command = new DescribeStacksCommand({});
        expect(withoutMetadata(await ours.send(command))).toEqual(withoutMetadata(await plain.send(command)));
      }),
      { numRuns: 60 },
    );
  });

  it('is the protocol of the bot’s CloudFormation clients', () => {
    const client = createAwsClients().cloudFormation({ region: 'us-east-1' }, 'U1');
    expect((client.config as { protocol?: unknown }).protocol).toBeInstanceOf(FastXmlQueryProtocol);
    client.destroy();
  });
});
