// Making untrusted text (config, Slack, AWS) safe inside mrkdwn.
// Slack parses only `&`, `<` and `>` as control characters, and mentions notify only through
// `<!here>`, `<!channel>`, `<!everyone>`, `<@U…>` and `<!subteam^S…>` (platform-facts §1.9),
// so escaping those three characters is enough to stop mention injection.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Replaces each half of a surrogate pair that stands alone with U+FFFD. Such text is not valid UTF-16:
 * @slack/web-api form-encodes `text` with node:querystring, which throws `URI malformed` on a trailing
 * lone high surrogate and silently swallows the next character after an inner one.
 */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/** Escapes `&`, `<`, `>` for a mrkdwn text object or a message `text` (and makes the text well-formed). */
export function escapeMrkdwn(s: string): string {
  return wellFormed(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Inline code span, escaped. Backticks would end the span early, so they become `ˋ`; newlines
 * would break it, so they become spaces.
 */
export function code(s: string): string {
  const inner = s.replace(/`/g, 'ˋ').replace(/\r?\n|\r/g, ' ');
  return `\`${escapeMrkdwn(inner.trim() === '' ? `"${inner}"` : inner)}\``;
}

/** Shortens to at most n characters (UTF-16 units, as Slack's limits count), ending with '…'. */
export function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  if (n <= 0) return '';
  if (n === 1) return '…';
  let cut = n - 1;
  // Do not leave half of a surrogate pair (an emoji) before the ellipsis.
  if (/[\uD800-\uDBFF]/.test(s.charAt(cut - 1))) cut--;
  return `${s.slice(0, cut)}…`;
}

/**
 * Shortens text that is already escaped mrkdwn without cutting an entity (`&amp;`) or a mention in half.
 * Use it as the last guard before a hard limit.
 */
export function truncateEscaped(s: string, n: number): string {
  if (s.length <= n) return s;
  const cut = truncate(s, n);
  const body = cut.slice(0, -1);
  // Nor a mention or link the view made (`<@U…>`, `<!subteam^S…>`, `<#C…>`) whose `>` was cut off, down to a
  // lone `<`.
  return `${body.replace(/&[a-z]{0,4}$/, '').replace(/<(?:[@!#][^<>\s]{0,60})?$/, '')}…`;
}

const USER_ID = /^[UW][A-Z0-9]+$/;
const GROUP_ID = /^S[A-Z0-9]+$/;

/** `<@U…>` for a well-formed user ID; anything else is shown as escaped text and pings no one. */
export function mentionUser(id: string): string {
  return USER_ID.test(id) ? `<@${id}>` : escapeMrkdwn(id);
}

/** `<!subteam^S…>` for a well-formed user-group ID; anything else is shown as escaped text. */
export function mentionGroup(id: string): string {
  return GROUP_ID.test(id) ? `<!subteam^${id}>` : escapeMrkdwn(id);
}

/** A reviewer entry may be a user (U…/W…) or a user group (S…). */
export function mention(id: string): string {
  return GROUP_ID.test(id) ? mentionGroup(id) : mentionUser(id);
}

/**
 * For `plain_text` objects (headers, buttons, dialogs): Slack does not parse mentions there, but
 * we still swap angle brackets for look-alikes so a service called `<!channel>` never appears
 * verbatim anywhere in a message we send.
 */
export function plainText(s: string): string {
  return wellFormed(s).replace(/</g, '‹').replace(/>/g, '›');
}

const CHANNEL_ID = /^[CGD][A-Z0-9]+$/;

/** `<#C…>` for a well-formed channel ID; anything else is shown as escaped text. */
export function mentionChannel(id: string): string {
  return CHANNEL_ID.test(id) ? `<#${id}>` : escapeMrkdwn(id);
}

/** Slack HTML-escapes &, < and > in slash-command text, so `dev->prod` arrives as `dev-&gt;prod`. */
export function unescapeSlack(text: string): string {
  return text.replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}
