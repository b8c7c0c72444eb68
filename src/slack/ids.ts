// Action IDs of the buttons the bot posts. Buttons carry only the promotion ID as their value:
// who clicked always comes from the signed payload's user.id.
export const ACTION = {
  approve: 'promotion_approve',
  reject: 'promotion_reject',
  cancel: 'promotion_cancel',
  showChanges: 'promotion_show_changes',
  cancelUpdate: 'rollback_cancel_update',
  continueRollback: 'rollback_continue',
} as const;

export type ActionId = (typeof ACTION)[keyof typeof ACTION];
