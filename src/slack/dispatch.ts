// One global middleware routes every request Bolt hands the app to its handler, by kind and ID, and acks what
// no handler takes. Bolt runs each incoming request through every registered listener's middleware chain
// (App.processEvent: each listener's matchers get their own copy of the arguments) and the listener last; a
// global middleware that does not call next() ends the chain there, and the listeners are never walked
// (docs.slack.dev/tools/bolt-js/concepts/global-middleware). With the bot's ten listeners that walk was about 30% of
// the CPU a Bolt app that only acks took per request at 20 in flight (README, Performance).
import type {
  AllMiddlewareArgs,
  AnyMiddlewareArgs,
  BlockAction,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackEventMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';

export type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;
export type ActionArgs = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;
export type HomeOpenedArgs = SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs;
export type ViewSubmissionArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

type Handler<A> = (args: A) => Promise<unknown>;

/** The handlers, keyed by slash command, block action_id, event type and view callback_id. */
export interface Routes {
  commands: Record<string, Handler<CommandArgs>>;
  actions: Record<string, Handler<ActionArgs>>;
  events: { app_home_opened?: Handler<HomeOpenedArgs> };
  views: Record<string, Handler<ViewSubmissionArgs>>;
}

/** What a request no handler takes was (logged by the caller; the request is acked and nothing else happens). */
export interface Unrouted {
  kind: string;
  id?: string;
}

/** The route of a request: its kind and ID. Pure. */
export function routeOf(args: AnyMiddlewareArgs): Unrouted {
  if ('command' in args) return { kind: 'command', id: args.command.command };
  if ('action' in args) {
    return args.body.type === 'block_actions'
      ? { kind: 'block_actions', id: (args.action as { action_id?: string }).action_id }
      : { kind: args.body.type };
  }
  if ('view' in args) return { kind: args.body.type, id: args.view.callback_id };
  if ('event' in args) return { kind: 'event', id: args.event.type };
  return { kind: args.body.type };
}

/** A lookup that ignores inherited keys: an action_id 'constructor' or '__proto__' finds nothing. */
function lookup<H>(table: Record<string, H>, id: string | undefined): H | undefined {
  return id !== undefined && Object.hasOwn(table, id) ? table[id] : undefined;
}

export function dispatch(routes: Routes, onUnrouted: (what: Unrouted) => void): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const route = routeOf(args);
    // Each narrowing below repeats routeOf's test, so that TypeScript knows the handler's argument type.
    if (route.kind === 'command' && 'command' in args) {
      const handler = lookup(routes.commands, route.id);
      if (handler) return void (await handler(args));
    } else if (route.kind === 'block_actions' && 'action' in args) {
      const handler = lookup(routes.actions, route.id);
      if (handler) return void (await handler(args as ActionArgs));
    } else if (route.kind === 'view_submission' && 'view' in args) {
      const handler = lookup(routes.views, route.id);
      if (handler) return void (await handler(args as ViewSubmissionArgs));
    } else if (route.kind === 'event' && route.id === 'app_home_opened' && routes.events.app_home_opened) {
      return void (await routes.events.app_home_opened(args as HomeOpenedArgs));
    }
    onUnrouted(route);
    // Events are acked by Bolt before any middleware runs; anything else would wait 3 s and answer 404.
    if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
  };
}
