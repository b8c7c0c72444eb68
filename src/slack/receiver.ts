// Bolt's HTTP receiver, plus the check Bolt leaves out: it refuses a request whose X-Slack-Request-Timestamp
// is more than 5 minutes old, but not one dated in the future (platform-facts §1.3), which a captured request
// with a forged clock, or a sender with a wrong clock, would use to stay valid for longer. Those are refused
// the same way (HTTP 401, no body), before Bolt reads the body or any handler runs.
import { HTTPReceiver, type HTTPReceiverOptions } from '@slack/bolt';
import { deliveryProperties, REQUEST_WINDOW_MS } from './replay.js';

/** How far ahead of `nowMs` a timestamp header (unix seconds) is, in ms, when that is beyond the window. */
export function tooFarAhead(header: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  // Bolt refuses missing or unreadable timestamps itself.
  if (raw === undefined || !/^\d{1,15}$/.test(raw.trim())) return undefined;
  const ahead = Number(raw.trim()) * 1000 - nowMs;
  return ahead > REQUEST_WINDOW_MS ? ahead : undefined;
}

export interface ReceiverOptions
  extends Pick<HTTPReceiverOptions, 'signingSecret' | 'endpoints' | 'port' | 'customRoutes' | 'logLevel' | 'logger'> {
  now?: () => number;
  onRefused?: (why: { aheadMs: number; path: string }) => void;
}

/** An HTTPReceiver that also refuses future-dated requests and passes each request's signature to the handlers. */
export function createReceiver(o: ReceiverOptions): HTTPReceiver {
  const { now = Date.now, onRefused, ...options } = o;
  const receiver = new HTTPReceiver({ ...options, customPropertiesExtractor: deliveryProperties });
  const bolt = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    const aheadMs = req.method === 'POST' ? tooFarAhead(req.headers['x-slack-request-timestamp'], now()) : undefined;
    if (aheadMs === undefined) return bolt(req, res);
    onRefused?.({ aheadMs, path: (req.url ?? '').split('?')[0]! });
    req.resume();
    res.writeHead(401);
    res.end();
  };
  return receiver;
}
