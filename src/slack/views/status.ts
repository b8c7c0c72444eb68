// One mrkdwn line saying where a promotion stands; shared by the summary message and the final reply.
import type { ApprovalRule, FailedResource, Promotion } from '../../domain/types.js';
import { code, escapeMrkdwn, mentionUser, truncate } from '../escape.js';
import { count, plural } from './blocks.js';
import { alarmLabel, elapsed, formatDuration, relative } from './time.js';

/** Reasons come from AWS or users and can be long: keep them readable and escaped. */
export function reasonText(reason: string | undefined, max = 1000): string {
  return reason ? escapeMrkdwn(truncate(reason.trim(), max)) : '';
}

export function promotionTitle(p: Promotion): string {
  return p.kind === 'rollback' ? `ROLLBACK ${p.service}: ${p.to}` : `Promote ${p.service}: ${p.from ?? '?'} → ${p.to}`;
}

function who(p: Promotion, now: Date): string {
  if (!p.decision) return '';
  return ` by ${mentionUser(p.decision.user)} ${relative(p.decision.at, now)}`;
}

function approvers(p: Promotion): string {
  return p.approvals.map((a) => mentionUser(a.user)).join(', ');
}

/** "Approved by …", or, for a stage with `required: 0`, that no approval was asked for (recorded as such). */
function approvedBy(p: Promotion): string {
  if (p.approvals.length) return `Approved by ${approvers(p)}`;
  return `No approval required (${p.kind === 'rollback' ? 'rollback' : 'approvals'}.required: 0)`;
}

function failureReason(p: Promotion): string {
  const reason = p.execution?.reason ?? p.stateReason ?? p.execution?.failedResources.find((r) => r.reason)?.reason;
  return reasonText(reason) || 'no reason given';
}

/** How the execution ended, from CloudFormation's final stack status (UPDATE_ROLLBACK_FAILED etc.). */
export function executionOutcomeLine(p: Promotion, now: Date): string {
  const service = escapeMrkdwn(p.service);
  const to = escapeMrkdwn(p.to);
  const ms = elapsed(p.execution?.startedAt, p.execution?.endedAt, now);
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  const status = p.execution?.finalStackStatus;
  const statusText = status ? escapeMrkdwn(status) : '';

  if (p.state === 'succeeded') {
    return p.kind === 'rollback'
      ? `✅ Rolled back ${service} on ${to}${took}`
      : `✅ Promoted ${service} to ${to}${took}`;
  }
  const alarm = p.execution?.alarm;
  if (alarm && status?.endsWith('ROLLBACK_COMPLETE')) {
    // A rollback trigger (RollbackConfiguration): CloudFormation undid the update because an alarm fired.
    return `🚨 Rolled back by alarm ${code(truncate(alarmLabel(alarm), 120))}: it went into ALARM during the deploy or its monitoring time, so CloudFormation rolled the update back${took} (${statusText}). Alarm ${code(truncate(alarm, 300))}`;
  }
  if (status?.endsWith('ROLLBACK_FAILED')) {
    // The stack is stuck until someone continues the rollback (ContinueUpdateRollback).
    return `🚨 Rollback FAILED (${statusText}): ${failureReason(p)} — run /rollback ${service} ${to} to continue the rollback`;
  }
  if (status?.endsWith('ROLLBACK_COMPLETE') || p.state === 'rolled_back') {
    return `❌ Failed: ${failureReason(p)}. CloudFormation rolled back cleanly${status ? ` (${statusText})` : ''}`;
  }
  return `❌ Failed: ${failureReason(p)}${status ? ` (${statusText})` : ''}`;
}

/** The state of a promotion as one mrkdwn line (escaped), for every state. */
export function stateLine(p: Promotion, now: Date, rule?: ApprovalRule): string {
  switch (p.state) {
    case 'planning':
      return `⏳ *Planning…* creating change set${p.changeSet ? ` ${code(truncate(p.changeSet.name, 128))}` : ''}`;
    case 'awaiting_approval':
      return '🗳 *Waiting for approval*';
    case 'approved':
      return `✅ ${approvedBy(p)} — executing`;
    case 'executing': {
      const started = p.execution ? ` (started ${relative(p.execution.startedAt, now)})` : '';
      return `🚀 ${approvedBy(p)} — executing${started}`;
    }
    case 'succeeded':
    case 'failed':
    case 'rolled_back':
      return executionOutcomeLine(p, now);
    case 'rejected': {
      const reason = reasonText(p.decision?.reason ?? p.stateReason);
      return `🚫 *Rejected*${who(p, now)}${reason ? `: ${reason}` : ''}`;
    }
    case 'expired': {
      const when = p.expiresAt ? ` ${relative(p.expiresAt, now)}` : '';
      const got = rule
        ? `${count(p.approvals.length)} of ${plural(rule.required, 'approval')}`
        : plural(p.approvals.length, 'approval');
      return `⌛ *Expired*${when} with ${got}`;
    }
    case 'cancelled': {
      const reason = reasonText(p.decision?.reason ?? p.stateReason);
      return `🛑 *Cancelled*${who(p, now)}${reason ? `: ${reason}` : ''}`;
    }
    case 'nothing_to_promote': {
      const reason = reasonText(p.stateReason);
      const from = p.from ? ` already matches ${escapeMrkdwn(p.from)}` : ' has no changes';
      return `🟰 *Nothing to promote*: ${escapeMrkdwn(p.to)}${from}${reason ? ` (${reason})` : ''}`;
    }
    case 'plan_failed':
      return `❌ *Planning failed*: ${reasonText(p.stateReason) || 'no reason given'}`;
    default: {
      // A state added later still renders, plainly.
      const state: string = p.state;
      return escapeMrkdwn(state);
    }
  }
}

/** `• `UsersTable` (AWS::DynamoDB::Table) UPDATE_FAILED: reason` (escaped mrkdwn). */
export function renderFailedResource(r: FailedResource): string {
  const type = r.resourceType ? ` (${escapeMrkdwn(truncate(r.resourceType, 100))})` : '';
  const reason = r.reason ? `: ${reasonText(r.reason, 300)}` : '';
  return `• ${code(truncate(r.logicalId, 120))}${type} ${escapeMrkdwn(truncate(r.status, 60))}${reason}`;
}
