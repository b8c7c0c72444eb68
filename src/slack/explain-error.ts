// The one error boundary: whatever fault reaches a person becomes an instruction they can act on, in
// escaped mrkdwn. The cause chain stays in the log (the caller logs `err`), never in the message.
import { classifyAwsError, explainAwsFault, isAwsError } from '../aws/errors.js';
import { StoreUnavailableError } from '../store/types.js';
import { classifySlackError } from './errors.js';
import { escapeMrkdwn } from './escape.js';

export interface Explained {
  /** mrkdwn, escaped */
  text: string;
  /** Trying again later may work */
  transient: boolean;
}

function inChain(err: unknown, test: (e: unknown) => boolean): boolean {
  let e: unknown = err;
  for (let i = 0; i < 8 && e; i++) {
    if (test(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const SLACK_INSTRUCTIONS: Record<string, string> = {
  not_in_channel: 'I am not in this channel: invite me (`/invite @promote-bot`) and run the command again.',
  channel_not_found: 'I cannot see this channel: invite me (`/invite @promote-bot`) and run the command again.',
  invalid_auth: "Slack rejected the bot's token (SLACK_BOT_TOKEN): ask whoever runs promote-bot to check it.",
  token_revoked: "The bot's Slack token was revoked: ask whoever runs promote-bot to reinstall the app.",
  missing_scope: 'The Slack app lacks a permission it needs: reinstall it from manifest.yml.',
};

/** Turns a fault met while doing `what` into one instruction for the person. */
export function explainError(err: unknown, what: string): Explained {
  if (inChain(err, (e) => e instanceof StoreUnavailableError)) {
    return {
      text: `I could not reach my state store (Redis) while ${escapeMrkdwn(what)}: nothing was changed. Try again in a minute.`,
      transient: true,
    };
  }
  const aws = isAwsError(err) ? classifyAwsError(err) : undefined;
  if (aws) {
    const retry = aws.kind === 'transient' ? ' Try again in a minute.' : '';
    return {
      text: `While ${escapeMrkdwn(what)}: ${escapeMrkdwn(explainAwsFault(aws))}.${retry}`,
      transient: aws.kind === 'transient',
    };
  }
  const slack = classifySlackError(err);
  if (slack.code) {
    const known = SLACK_INSTRUCTIONS[slack.code];
    if (known) return { text: known, transient: false };
    return {
      text: `Slack answered ${escapeMrkdwn(slack.code)} while I was ${escapeMrkdwn(what)}.${slack.transient ? ' Try again in a minute.' : ''}`,
      transient: slack.transient,
    };
  }
  return {
    text: `Something failed while ${escapeMrkdwn(what)}; the details are in promote-bot's log. Nothing else was changed.`,
    transient: false,
  };
}
