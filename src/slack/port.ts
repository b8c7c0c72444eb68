// The Slack Web API calls the bot makes, behind one narrow port over @slack/web-api's WebClient.
// The WebClient waits out HTTP 429s (Retry-After) and retries, so rate limits slow updates down
// but never lose a message.
import type { webApi } from '@slack/bolt';
import type { KnownBlock } from './views/blocks.js';

export interface OutgoingMessage {
  channel: string;
  text: string;
  blocks?: KnownBlock[];
  thread_ts?: string;
  reply_broadcast?: boolean;
}

export interface SlackPort {
  /** `untilDelivered`: transient failures are retried until it is posted (an operation's final word). */
  post(msg: OutgoingMessage, opts?: { untilDelivered?: boolean }): Promise<{ ts: string }>;
  update(msg: { channel: string; ts: string; text: string; blocks?: KnownBlock[] }): Promise<void>;
  /**
   * Updates a message with what `render` returns when the request is about to be sent (after any wait for a
   * rate limit), or skips it when `render` returns undefined.
   */
  updateLatest(
    msg: { channel: string; ts: string },
    render: () => Promise<{ text: string; blocks?: KnownBlock[] } | undefined>,
  ): Promise<void>;
  /** Withdraws a message (chat.delete). */
  delete(msg: { channel: string; ts: string }): Promise<void>;
  ephemeral(msg: {
    channel: string;
    user: string;
    text: string;
    blocks?: KnownBlock[];
    thread_ts?: string;
  }): Promise<void>;
  groupMembers(groupId: string): Promise<string[]>;
  openModal(triggerId: string, view: ModalView): Promise<void>;
  upload(o: {
    channel: string;
    thread_ts?: string;
    filename: string;
    title: string;
    content: string;
    comment?: string;
  }): Promise<void>;
}

export type ModalView = webApi.ViewsOpenArguments['view'];

export function createSlackPort(client: webApi.WebClient): SlackPort {
  return {
    // Never link_names or parse: untrusted text must not turn into mentions. Fields are picked one by one,
    // not spread, so an object carrying more than the port's type (e.g. `{ ...view }`) cannot send them.
    async post(msg) {
      try {
        const res = await client.chat.postMessage({
          channel: msg.channel,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
          ...(msg.reply_broadcast !== undefined ? { reply_broadcast: msg.reply_broadcast } : {}),
          unfurl_links: false,
          unfurl_media: false,
        } as webApi.ChatPostMessageArguments);
        return { ts: res.ts as string };
      } catch (cause) {
        throw new Error(`posting a message in ${msg.channel}`, { cause });
      }
    },
    async update(msg) {
      try {
        await client.chat.update({
          channel: msg.channel,
          ts: msg.ts,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
        });
      } catch (cause) {
        throw new Error(`updating message ${msg.ts} in ${msg.channel}`, { cause });
      }
    },
    async updateLatest(msg, render) {
      const view = await render();
      if (view) await this.update({ ...msg, ...view });
    },
    async delete(msg) {
      try {
        await client.chat.delete({ channel: msg.channel, ts: msg.ts });
      } catch (cause) {
        throw new Error(`deleting message ${msg.ts} in ${msg.channel}`, { cause });
      }
    },
    async ephemeral(msg) {
      try {
        await client.chat.postEphemeral({
          channel: msg.channel,
          user: msg.user,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
        });
      } catch (cause) {
        throw new Error(`telling ${msg.user} in ${msg.channel}`, { cause });
      }
    },
    async groupMembers(groupId) {
      try {
        const res = await client.usergroups.users.list({ usergroup: groupId });
        return (res.users as string[] | undefined) ?? [];
      } catch (cause) {
        throw new Error(`listing the members of user group ${groupId}`, { cause });
      }
    },
    async openModal(triggerId, view) {
      try {
        await client.views.open({ trigger_id: triggerId, view });
      } catch (cause) {
        throw new Error('opening a modal', { cause });
      }
    },
    async upload(o) {
      try {
        await client.filesUploadV2({
          channel_id: o.channel,
          filename: o.filename,
          title: o.title,
          content: o.content,
          ...(o.thread_ts ? { thread_ts: o.thread_ts } : {}),
          ...(o.comment ? { initial_comment: o.comment } : {}),
        } as webApi.FilesUploadV2Arguments);
      } catch (cause) {
        throw new Error(`uploading ${o.filename} to ${o.channel}`, { cause });
      }
    },
  };
}

/** Slack's error code from a WebClient error (e.g. 'not_in_channel'), if it has one. */
export function slackErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    const code = (cur as { data?: { error?: string } }).data?.error;
    if (code) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
