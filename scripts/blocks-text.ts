// A plain-text rendering of Block Kit messages, roughly as Slack shows them: headers in capitals, sections and
// their fields, context in a lighter line, buttons in [brackets], mrkdwn mentions and links resolved to names.
// Block and element types: docs.slack.dev/reference/block-kit/blocks; mrkdwn: docs.slack.dev/messaging/formatting-message-text.

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : '');

export interface Names {
  users?: Record<string, string>;
  groups?: Record<string, string>;
  channels?: Record<string, string>;
}

/** mrkdwn → what a reader sees: `<@U…>` → @name, `<!subteam^S…>` → @group, `<url|label>` → label, entities decoded. */
export function mrkdwnText(text: string, names: Names = {}): string {
  return text
    .replace(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g, (_m, id: string) => `@${names.users?.[id] ?? id}`)
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>/g, (_m, id: string) => `@${names.groups?.[id] ?? id}`)
    .replace(
      /<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>/g,
      (_m, id: string, label?: string) => `#${label || names.channels?.[id] || id}`,
    )
    .replace(/<!(here|channel|everyone)>/g, '@$1')
    .replace(/<!date\^\d+\^[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function textOf(t: unknown, names: Names): string {
  if (!isObj(t)) return '';
  return t.type === 'mrkdwn' ? mrkdwnText(str(t.text), names) : str(t.text);
}

function elementText(e: unknown, names: Names): string {
  if (!isObj(e)) return '';
  if (e.type === 'button') return `[ ${textOf(e.text, names)} ]`;
  if (e.type === 'image') return `(image: ${str(e.alt_text)})`;
  if (e.type === 'mrkdwn' || e.type === 'plain_text') return textOf(e, names);
  if (isObj(e.placeholder)) return `[ ${textOf(e.placeholder, names)} ▾ ]`;
  return `[${str(e.type)}]`;
}

/** rich_text: sections, lists, preformatted and quotes, as plain lines. */
function richText(elements: unknown[], names: Names): string[] {
  const inline = (parts: unknown): string =>
    (Array.isArray(parts) ? parts : [])
      .map((p) => {
        if (!isObj(p)) return '';
        if (p.type === 'user') return `@${names.users?.[str(p.user_id)] ?? str(p.user_id)}`;
        if (p.type === 'usergroup') return `@${names.groups?.[str(p.usergroup_id)] ?? str(p.usergroup_id)}`;
        if (p.type === 'link') return str(p.text) || str(p.url);
        if (p.type === 'emoji') return `:${str(p.name)}:`;
        return str(p.text);
      })
      .join('');
  return elements.flatMap((el) => {
    if (!isObj(el)) return [];
    if (el.type === 'rich_text_list') {
      return (Array.isArray(el.elements) ? el.elements : []).map(
        (item) => `• ${inline(isObj(item) ? item.elements : [])}`,
      );
    }
    const text = inline(el.elements);
    if (el.type === 'rich_text_preformatted') return text.split('\n').map((l) => `  ${l}`);
    if (el.type === 'rich_text_quote') return text.split('\n').map((l) => `> ${l}`);
    return text.split('\n');
  });
}

/** The lines one block shows. */
export function blockLines(block: unknown, names: Names = {}): string[] {
  if (!isObj(block)) return [];
  switch (block.type) {
    case 'header':
      return [textOf(block.text, names).toUpperCase()];
    case 'divider':
      return ['────────────────────────────────────────'];
    case 'section': {
      const lines = block.text ? textOf(block.text, names).split('\n') : [];
      for (const f of Array.isArray(block.fields) ? block.fields : []) lines.push(...textOf(f, names).split('\n'));
      if (block.accessory) lines.push(elementText(block.accessory, names));
      return lines;
    }
    case 'context':
      return [(Array.isArray(block.elements) ? block.elements : []).map((e) => elementText(e, names)).join('  ·  ')];
    case 'actions':
      return [(Array.isArray(block.elements) ? block.elements : []).map((e) => elementText(e, names)).join(' ')];
    case 'markdown':
      return mrkdwnText(str(block.text), names).split('\n');
    case 'rich_text':
      return richText(Array.isArray(block.elements) ? block.elements : [], names);
    case 'image':
      return [`(image: ${str(block.alt_text)})`];
    default:
      return [`(${str(block.type)} block)`];
  }
}

/** A whole message: its blocks when it has some, else its `text` (what Slack shows then). */
export function messageLines(msg: { text?: string; blocks?: unknown[] }, names: Names = {}): string[] {
  if (Array.isArray(msg.blocks) && msg.blocks.length > 0) return msg.blocks.flatMap((b) => blockLines(b, names));
  return mrkdwnText(msg.text ?? '', names).split('\n');
}

/** Block Kit Builder opens a message from its URL fragment: the url-encoded `{"blocks": […]}`. */
export function blockKitBuilderUrl(blocks: unknown[]): string {
  return `https://app.slack.com/block-kit-builder#${encodeURIComponent(JSON.stringify({ blocks }))}`;
}
