// A signed request replayed within its validity window causes nothing twice, across replicas.
// Slack signs `v0:<timestamp>:<body>` (docs.slack.dev/authentication/verifying-requests-from-slack), so one
// X-Slack-Signature names one delivery: a second request with the same signature is a replay (or a copy).
// The handler still acks it; its work runs only for the first delivery, claimed with SET NX PX in the store
// after the ack, never before it.
import type { BufferedIncomingMessage } from '@slack/bolt';
import type { Store } from '../store/types.js';

/** Bolt refuses timestamps older than this, and src/slack/receiver.ts those further ahead. */
export const REQUEST_WINDOW_MS = 5 * 60_000;
/** Kept a little past the window, for replicas whose clocks differ a little. */
export const REPLAY_MARGIN_MS = 60_000;

/** One delivery of a signed request, carried into the handler's context by the receiver. */
export interface Delivery {
  signature: string;
  /** X-Slack-Request-Timestamp, in milliseconds */
  timestampMs: number;
}

/** The context key Bolt's `customPropertiesExtractor` puts the delivery under. */
export const DELIVERY_KEY = 'slackDelivery';

function header(req: BufferedIncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** For HTTPReceiver's `customPropertiesExtractor`: runs after Bolt verified the signature. */
export function deliveryProperties(req: BufferedIncomingMessage): Record<string, Delivery> {
  const signature = header(req, 'x-slack-signature');
  const timestamp = Number(header(req, 'x-slack-request-timestamp'));
  if (!signature || !Number.isFinite(timestamp)) return {};
  return { [DELIVERY_KEY]: { signature, timestampMs: timestamp * 1000 } };
}

/** The delivery in a Bolt context, if the request came signed over HTTP (not over Socket Mode). */
export function deliveryOf(context: Record<string, unknown> | undefined): Delivery | undefined {
  const d = context?.[DELIVERY_KEY] as Partial<Delivery> | undefined;
  return typeof d?.signature === 'string' && typeof d.timestampMs === 'number' ? (d as Delivery) : undefined;
}

/**
 * How long a signature must be remembered: until its timestamp leaves the window (a request dated up to
 * 5 minutes ahead stays acceptable for up to 10), plus the margin. About 6 minutes for a request sent now.
 */
export function replayTtlMs(d: Delivery, nowMs: number): number {
  return Math.max(0, d.timestampMs + REQUEST_WINDOW_MS - nowMs) + REPLAY_MARGIN_MS;
}

/**
 * True for the first delivery of a signed request (or a request without one), false for a replay seen before
 * by any replica sharing the store. Call it after the ack: it is a store round trip.
 */
export async function firstDelivery(
  store: Pick<Store, 'acquire'>,
  holder: string,
  delivery: Delivery | undefined,
  nowMs: number,
): Promise<boolean> {
  if (!delivery) return true;
  const r = await store.acquire(`replay:${delivery.signature}`, holder, replayTtlMs(delivery, nowMs));
  return r.acquired;
}
