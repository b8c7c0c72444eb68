// The modal that asks, after a rejection, why (optional). The rejection never waits for it.
import type { Promotion } from '../../domain/types.js';
import { plainText, truncate } from '../escape.js';
import type { ModalView } from '../port.js';
import { promotionTitle } from './status.js';

export const REJECT_REASON = { callbackId: 'promotion_reject_reason', blockId: 'reason', actionId: 'reason' } as const;

export interface RejectReasonMetadata {
  id: string;
  channel: string;
}

export function renderRejectReasonModal(p: Promotion): ModalView {
  const meta: RejectReasonMetadata = { id: p.id, channel: p.channel };
  return {
    type: 'modal',
    callback_id: REJECT_REASON.callbackId,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Rejected' },
    submit: { type: 'plain_text', text: 'Add reason' },
    close: { type: 'plain_text', text: 'Skip' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'plain_text',
          text: truncate(
            plainText(
              `You rejected "${promotionTitle(p)}". Say why (optional): it is shown on the message and kept in the audit log.`,
            ),
            2900,
          ),
        },
      },
      {
        type: 'input',
        block_id: REJECT_REASON.blockId,
        optional: true,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REJECT_REASON.actionId, multiline: true, max_length: 500 },
      },
    ],
  };
}
