// Expected refusals, as values: what was refused and the data needed to explain it. The Slack layer
// renders them (src/slack/views/refusals.ts); nothing here is formatted for any chat system.
import type { PromotionKind, PromotionState } from './types.js';

/** A stage held after a rollback: promotions wait until someone unholds it. Plain data. */
export interface StageHold {
  /** Who caused the hold (Slack user ID) */
  user: string;
  /** ISO time */
  at: string;
  /** Why; absent in holds stored by older versions (which kept a pre-rendered `reason` text) */
  cause?: 'rollback';
  /** The rollback that caused it */
  promotionId?: string;
}

/** A /promote or /rollback text the parser cannot read. */
export type UsageRefusal =
  | { code: 'status_args' }
  | { code: 'history_args' }
  | { code: 'unhold_args' }
  | { code: 'unlock_args' }
  | { code: 'too_long'; length: number; max: number }
  | { code: 'missing_stage'; service: string }
  | { code: 'unreadable_stages'; text: string }
  | { code: 'missing_release' }
  | { code: 'unreadable_rollback'; text: string };

export type Refusal =
  | UsageRefusal
  // Resolving names against the config
  | { code: 'unknown_service'; name: string; suggestion?: string; known: string[] }
  | { code: 'channel_not_allowed'; service: string; channels: string[] }
  | { code: 'unknown_stage'; name: string; suggestion?: string; known: string[] }
  | { code: 'first_stage'; service: string; stage: string }
  | { code: 'same_stage'; service: string; stage: string }
  | { code: 'path_not_allowed'; service: string; from: string; to: string; allowed: string[] }
  // The source stage must run a working build
  | {
      code: 'source_unhealthy';
      service: string;
      stage: string;
      stack: string;
      /** The stack's status; absent when the stack does not exist */
      status?: string;
      why: 'missing' | 'busy' | 'failed' | 'never_created' | 'never_deployed' | 'unrecognised';
    }
  // The promotion state machine
  | { code: 'unknown_promotion' }
  | { code: 'wrong_state'; kind: PromotionKind; state: PromotionState }
  | { code: 'not_cancellable'; kind: PromotionKind; state: PromotionState }
  | { code: 'expired'; kind: PromotionKind }
  | { code: 'not_expired' }
  | { code: 'not_reviewer'; service: string; stage: string; reviewers: string[] }
  | { code: 'self_approval'; kind: PromotionKind }
  | { code: 'already_approved' }
  | { code: 'not_rejecter' }
  | { code: 'not_requester'; requester: string; kind: PromotionKind }
  /** A button clicked on a message (or in a channel) other than the one where the bot posted the operation */
  | { code: 'wrong_place'; kind: PromotionKind }
  /** The approvals changed while the reviewers were being looked up again: the click is to be decided afresh */
  | { code: 'reviewers_changed' }
  // Holds and the release history
  | { code: 'held'; service: string; stage: string; hold: StageHold }
  | { code: 'no_releases'; service: string; stage: string }
  | { code: 'unknown_release'; service: string; stage: string; name: string; known: string[] }
  | { code: 'nothing_to_undo'; service: string; stage: string; oldest: string };

export type RefusalCode = Refusal['code'];
