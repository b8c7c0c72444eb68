// Small Block Kit builders and the limits every view stays under (platform-facts §1.6).
import type { types } from '@slack/bolt';
import { groupDigits } from '../../domain/text.js';
import { truncate, truncateEscaped } from '../escape.js';

export type KnownBlock = types.KnownBlock;
export type Button = types.Button;

export interface View {
  /** Notification / fallback text: short and escaped. */
  text: string;
  blocks: KnownBlock[];
}

export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  buttonText: 75,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  id: 255,
  /**
   * Slack also rejects messages whose blocks hold too much text in total (`msg_blocks_too_long`,
   * observed at about 11–13 k characters: bolt-js #2509, #2867). We stay under 11,000 and plan
   * against a slightly lower budget.
   */
  totalText: 11_000,
  totalTextBudget: 10_500,
  /** Fallback `text` kept short: it is what notifications show. */
  fallbackText: 300,
} as const;

/** Section with mrkdwn text (already escaped by the caller), clipped to the section limit. */
export function section(text: string, blockId?: string, max: number = LIMITS.sectionText): KnownBlock {
  return {
    type: 'section',
    ...(blockId ? { block_id: blockId } : {}),
    text: { type: 'mrkdwn', text: truncateEscaped(text || ' ', Math.min(max, LIMITS.sectionText)) },
  };
}

/** Section made of up to 10 mrkdwn fields (already escaped), each clipped to the field limit. */
export function fieldsSection(fields: string[], blockId?: string): KnownBlock {
  return {
    type: 'section',
    ...(blockId ? { block_id: blockId } : {}),
    fields: fields
      .slice(0, LIMITS.fields)
      .map((f) => ({ type: 'mrkdwn' as const, text: truncateEscaped(f || ' ', LIMITS.fieldText) })),
  };
}

/** Header with plain text (pass it through plainText() first), clipped to 150 characters. */
export function header(text: string, blockId?: string): KnownBlock {
  return {
    type: 'header',
    ...(blockId ? { block_id: blockId } : {}),
    text: { type: 'plain_text', text: truncate(text, LIMITS.headerText), emoji: true },
  };
}

/** Context line with one mrkdwn element (already escaped). */
export function context(text: string, blockId?: string): KnownBlock {
  return {
    type: 'context',
    ...(blockId ? { block_id: blockId } : {}),
    elements: [{ type: 'mrkdwn', text: truncateEscaped(text || ' ', LIMITS.sectionText) }],
  };
}

export interface ButtonSpec {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny: string; style?: 'primary' | 'danger' };
}

/** Button with plain-text label and optional confirm dialog, every text clipped to its limit. */
export function button(b: ButtonSpec): Button {
  return {
    type: 'button',
    action_id: b.actionId,
    value: b.value,
    text: { type: 'plain_text', text: truncate(b.text, LIMITS.buttonText), emoji: true },
    ...(b.style ? { style: b.style } : {}),
    ...(b.confirm
      ? {
          confirm: {
            title: { type: 'plain_text', text: truncate(b.confirm.title, LIMITS.confirmTitle) },
            text: { type: 'plain_text', text: truncate(b.confirm.text, LIMITS.confirmText) },
            confirm: { type: 'plain_text', text: truncate(b.confirm.confirm, LIMITS.confirmButton) },
            deny: { type: 'plain_text', text: truncate(b.confirm.deny, LIMITS.confirmButton) },
            ...(b.confirm.style ? { style: b.confirm.style } : {}),
          },
        }
      : {}),
  };
}

export function actions(elements: Button[], blockId?: string): KnownBlock {
  return { type: 'actions', ...(blockId ? { block_id: blockId } : {}), elements };
}

/** Characters of text in blocks: every plain_text/mrkdwn text object, including buttons and dialogs. */
export function blocksTextLength(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + blocksTextLength(v), 0);
  if (!value || typeof value !== 'object') return 0;
  const obj = value as Record<string, unknown>;
  let n = 0;
  if ((obj.type === 'plain_text' || obj.type === 'mrkdwn') && typeof obj.text === 'string') n += obj.text.length;
  for (const [k, v] of Object.entries(obj)) if (k !== 'text' || typeof v !== 'string') n += blocksTextLength(v);
  return n;
}

/** Formats a count the way people read it: 2,412. */
export function count(n: number): string {
  return groupDigits(n);
}

/** "1 change" / "3 changes". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}
