// Action IDs of the buttons the bot posts. Buttons carry only the promotion ID as their value:
// who clicked always comes from the signed payload's user.id.
export const ACTION = {
  approve: 'promotion_approve',
  reject: 'promotion_reject',
  cancel: 'promotion_cancel',
  showChanges: 'promotion_show_changes',
  /** continue_rollback only: approve and skip the resources stuck in UPDATE_ROLLBACK_FAILED */
  continueSkipping: 'rollback_continue_skip',
  /** App Home: turns direct messages about approvals on or off (value 'on' | 'off') */
  homeDirectMessages: 'home_direct_messages',
} as const;

export type ActionId = (typeof ACTION)[keyof typeof ACTION];
