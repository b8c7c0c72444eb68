// createSlackFetch against a real HTTP server on this machine: what it sends, the Response it gives back (as
// Bolt's respond() and the WebClient read it), its own timeout when nobody answers, and the caller's signal.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifySlackError } from '../../src/slack/errors.js';
import { createSlackFetch } from '../../src/slack/http-fetch.js';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
let seen: Seen[];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeEach(async () => {
  seen = [];
  answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('createSlackFetch', () => {
  it('posts the body and headers as given and answers a Response with status, headers and body', async () => {
    answer = (_req, res) => {
      res.writeHead(201, 'Made', [
        ['content-type', 'application/json'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ]);
      res.end('{"ok":true,"ts":"1.2"}');
    };
    const f = createSlackFetch();
    const res = await f(`${base}/respond/abc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"text":"hi"}',
    });
    expect(seen).toEqual([expect.objectContaining({ method: 'POST', url: '/respond/abc', body: '{"text":"hi"}' })]);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(res.ok).toBe(true);
    expect(res.status).toBe(201);
    expect(res.statusText).toBe('Made');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ ok: true, ts: '1.2' });
  });

  it('takes headers given as a Headers object or as pairs', async () => {
    const f = createSlackFetch();
    await f(`${base}/a`, { method: 'POST', headers: new Headers({ 'x-one': '1' }), body: 'x' });
    await f(`${base}/b`, { method: 'POST', headers: [['x-two', '2']], body: 'y' });
    expect(seen.map((s) => [s.headers['x-one'], s.headers['x-two']])).toEqual([
      ['1', undefined],
      [undefined, '2'],
    ]);
  });

  it('answers an error status as a Response that is not ok (respond() turns it into RespondError)', async () => {
    answer = (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('used_url');
    };
    const res = await createSlackFetch()(`${base}/respond/old`, { method: 'POST', body: '{}' });
    expect(res.ok).toBe(false);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('used_url');
  });

  it('answers a 204 with an empty body', async () => {
    answer = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const res = await createSlackFetch()(`${base}/x`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('fails a request nobody answers after its own timeout, read as a transient timeout', async () => {
    answer = () => undefined; // never answers
    const err = await rejection(createSlackFetch({ timeoutMs: 150 })(`${base}/hang`, { method: 'POST', body: '{}' }));
    expect(err.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'timeout' });
  });

  it("stops when the caller's signal aborts", async () => {
    answer = () => undefined;
    const controller = new AbortController();
    const p = createSlackFetch()(`${base}/hang`, { method: 'POST', body: '{}', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('given up')), 50);
    expect((await rejection(p)).message).toBe('given up');
  });

  it('fails a refused connection with its system code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await rejection(createSlackFetch()(`http://127.0.0.1:${port}/x`, { method: 'POST', body: '{}' }));
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'ECONNREFUSED' });
  });

  it('sends a FormData body (a file upload) as multipart through the built-in fetch', async () => {
    const form = new FormData();
    form.append('filename', 'plan.txt');
    form.append('file', new Blob(['the plan']), 'plan.txt');
    const res = await createSlackFetch()(`${base}/upload`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(seen[0]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen[0]!.body).toContain('the plan');
  });
});
