// The one middleware that routes each request Bolt hands the app: by kind and ID to its handler, and what no
// handler takes acked (events are acked by Bolt itself) and reported, never looked up among inherited keys.
import type { AnyMiddlewareArgs } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { dispatch, type Routes, routeOf, type Unrouted } from '../../src/slack/dispatch.js';

/** Middleware arguments as Bolt builds them (App.processEvent), reduced to what routing reads. */
const command = (name: string) => ({ command: { command: name, text: '' }, body: { command: name }, payload: {} });
const blockAction = (actionId: string) => ({
  action: { type: 'button', action_id: actionId },
  body: { type: 'block_actions', actions: [{ action_id: actionId }] },
  payload: {},
});
const view = (type: string, callbackId: string) => ({
  view: { callback_id: callbackId },
  body: { type, view: { callback_id: callbackId } },
  payload: {},
});
const event = (type: string) => ({ event: { type }, body: { type: 'event_callback', event: { type } }, payload: {} });
const shortcut = () => ({ shortcut: {}, body: { type: 'shortcut', callback_id: 'x' }, payload: {} });

interface Case {
  name: string;
  args: Record<string, unknown>;
  /** an ack function is given (Bolt gives none for events) */
  acks: boolean;
  handled?: string;
  unrouted?: Unrouted;
}

const cases: Case[] = [
  { name: '/promote', args: command('/promote'), acks: true, handled: 'promote' },
  { name: '/rollback', args: command('/rollback'), acks: true, handled: 'rollback' },
  { name: 'an unknown command', args: command('/deploy'), acks: true, unrouted: { kind: 'command', id: '/deploy' } },
  { name: 'a known button', args: blockAction('promotion_approve'), acks: true, handled: 'approve' },
  {
    name: 'a button of an older version',
    args: blockAction('promotion_old'),
    acks: true,
    unrouted: { kind: 'block_actions', id: 'promotion_old' },
  },
  {
    name: "a button named after an object's own key",
    args: blockAction('constructor'),
    acks: true,
    unrouted: { kind: 'block_actions', id: 'constructor' },
  },
  {
    name: "a button named '__proto__'",
    args: blockAction('__proto__'),
    acks: true,
    unrouted: { kind: 'block_actions', id: '__proto__' },
  },
  { name: 'the reject-reason view', args: view('view_submission', 'reason'), acks: true, handled: 'reason' },
  {
    name: 'a view it does not know',
    args: view('view_submission', 'other'),
    acks: true,
    unrouted: { kind: 'view_submission', id: 'other' },
  },
  {
    name: 'a closed view, with the known callback',
    args: view('view_closed', 'reason'),
    acks: true,
    unrouted: { kind: 'view_closed', id: 'reason' },
  },
  { name: 'app_home_opened', args: event('app_home_opened'), acks: false, handled: 'home' },
  { name: 'another event', args: event('message'), acks: false, unrouted: { kind: 'event', id: 'message' } },
  { name: 'a shortcut', args: shortcut(), acks: true, unrouted: { kind: 'shortcut' } },
];

describe('dispatch', () => {
  it.each(cases)('$name', async (c) => {
    const handled: string[] = [];
    const unrouted: Unrouted[] = [];
    const acks: unknown[] = [];
    const to = (name: string) => async (a: unknown) => {
      handled.push(name);
      expect(a).toMatchObject(c.args); // the handler gets Bolt's arguments as they were
    };
    const routes: Routes = {
      commands: { '/promote': to('promote'), '/rollback': to('rollback') },
      actions: { promotion_approve: to('approve') },
      events: { app_home_opened: to('home') },
      views: { reason: to('reason') },
    };
    const args = { ...c.args, ...(c.acks ? { ack: async (...x: unknown[]) => void acks.push(x) } : {}) };
    await dispatch(routes, (w) => unrouted.push(w))(args as unknown as Parameters<ReturnType<typeof dispatch>>[0]);
    expect(handled).toEqual(c.handled ? [c.handled] : []);
    expect(unrouted).toEqual(c.unrouted ? [c.unrouted] : []);
    // What a handler takes, the handler acks; what none takes is acked empty here, when it can be.
    expect(acks).toEqual(!c.handled && c.acks ? [[]] : []);
  });

  it('passes a handler’s failure on to Bolt’s error handler', async () => {
    const routes: Routes = {
      commands: {
        '/promote': async () => {
          throw new Error('boom');
        },
      },
      actions: {},
      events: {},
      views: {},
    };
    const args = { ...command('/promote'), ack: async () => undefined } as unknown as AnyMiddlewareArgs;
    await expect(dispatch(routes, () => undefined)(args as never)).rejects.toThrow('boom');
  });

  it('names the route of each kind', () => {
    expect(cases.map((c) => routeOf(c.args as unknown as AnyMiddlewareArgs))).toEqual([
      { kind: 'command', id: '/promote' },
      { kind: 'command', id: '/rollback' },
      { kind: 'command', id: '/deploy' },
      { kind: 'block_actions', id: 'promotion_approve' },
      { kind: 'block_actions', id: 'promotion_old' },
      { kind: 'block_actions', id: 'constructor' },
      { kind: 'block_actions', id: '__proto__' },
      { kind: 'view_submission', id: 'reason' },
      { kind: 'view_submission', id: 'other' },
      { kind: 'view_closed', id: 'reason' },
      { kind: 'event', id: 'app_home_opened' },
      { kind: 'event', id: 'message' },
      { kind: 'shortcut' },
    ]);
  });
});
