// Readiness: the store's ping (bounded), Slack's state; Socket Mode's state from the client's events.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { followSocketMode, READY_STORE_TIMEOUT_MS, readiness } from '../../src/probes.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

describe('readiness', () => {
  it('is ready when the store answers and Slack has no problem', async () => {
    expect(await readiness({ store: createMemoryStore(), slackProblem: () => undefined })).toEqual({
      ready: true,
      store: 'ok',
      slack: 'ok',
    });
  });

  it('names each part that is not ready', async () => {
    const store = createMemoryStore();
    await store.close();
    const r = await readiness({ store, slackProblem: () => 'Socket Mode is reconnecting' });
    expect(r).toEqual({
      ready: false,
      store: 'not answering: pinging the in-memory store: it is closed',
      slack: 'Socket Mode is reconnecting',
    });
  });

  it('does not wait for a store that never answers', async () => {
    const hung = { durable: true, ping: () => new Promise<void>(() => undefined) };
    const started = Date.now();
    const r = await readiness({ store: hung, slackProblem: () => undefined });
    expect(r.ready).toBe(false);
    expect(r.store).toBe(`not answering: no answer within ${READY_STORE_TIMEOUT_MS} ms`);
    expect(Date.now() - started).toBeLessThan(READY_STORE_TIMEOUT_MS * 3);
  });
});

describe('followSocketMode', () => {
  it('is ready only while the client is connected', () => {
    const client = new EventEmitter();
    const problem = followSocketMode(client);
    expect(problem()).toBe('Socket Mode is connecting');
    client.emit('connected');
    expect(problem()).toBeUndefined();
    client.emit('reconnecting');
    expect(problem()).toBe('Socket Mode is reconnecting');
    client.emit('connected');
    client.emit('disconnected');
    expect(problem()).toBe('Socket Mode is disconnected');
  });

  it('is not ready while the WebSocket is closed, before the client reconnects', () => {
    let open = true;
    const client = Object.assign(new EventEmitter(), { websocket: { isActive: () => open } });
    const problem = followSocketMode(client);
    client.emit('connected');
    expect(problem()).toBeUndefined();
    open = false;
    expect(problem()).toBe('Socket Mode connection dropped; reconnecting');
  });

  it('says so when there is no client to follow', () => {
    expect(followSocketMode(undefined)()).toBe('Socket Mode client not found');
  });
});
