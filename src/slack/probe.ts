// Read-only Slack calls for `--check` (src/check-config.ts): one attempt each, no scheduler, no retries, so a
// broken setup is reported at once instead of being retried for a minute.
// - auth.test: whether the bot token works, and whose it is (docs.slack.dev/reference/methods/auth.test)
// - usergroups.users.list: whether a reviewer group exists; `no_such_subteam` when not (platform-facts §1.10)
// - conversations.info: the channel object's `is_member` says whether the calling bot is in it; a private channel
//   the bot is not in answers `channel_not_found` (docs.slack.dev/reference/methods/conversations.info;
//   scopes channels:read, and groups:read for private channels)
import type { webApi } from '@slack/bolt';
import { classifySlackError } from './errors.js';

/** Slack's error code, or ours for a call that got no answer ('timeout', 'ECONNREFUSED', 'http_503'…). */
export interface ProbeFailure {
  ok: false;
  error: string;
  /** the scope Slack says is missing (`missing_scope` answers carry `needed`) */
  needed?: string;
}

export type WhoAmI = { ok: true; user: string; userId: string; team: string } | ProbeFailure;
export type GroupProbe = { ok: true; members: number } | ProbeFailure;
export type ChannelProbe = { ok: true; name: string; member: boolean; archived: boolean } | ProbeFailure;

function failure(err: unknown): ProbeFailure {
  const code = classifySlackError(err).code ?? (err instanceof Error ? err.message : String(err));
  const needed = (err as { data?: { needed?: unknown } }).data?.needed;
  return { ok: false, error: code, ...(typeof needed === 'string' ? { needed } : {}) };
}

export async function whoAmI(client: webApi.WebClient): Promise<WhoAmI> {
  try {
    const r = await client.auth.test();
    return { ok: true, user: String(r.user ?? ''), userId: String(r.user_id ?? ''), team: String(r.team ?? '') };
  } catch (err) {
    return failure(err);
  }
}

export async function probeGroup(client: webApi.WebClient, group: string): Promise<GroupProbe> {
  try {
    const r = await client.usergroups.users.list({ usergroup: group });
    return { ok: true, members: (r.users ?? []).length };
  } catch (err) {
    return failure(err);
  }
}

export async function probeChannel(client: webApi.WebClient, channel: string): Promise<ChannelProbe> {
  try {
    const r = await client.conversations.info({ channel });
    return {
      ok: true,
      name: String(r.channel?.name ?? channel),
      member: r.channel?.is_member === true,
      archived: r.channel?.is_archived === true,
    };
  } catch (err) {
    return failure(err);
  }
}
