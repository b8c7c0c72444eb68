// npm run demo's story (scripts/demo.ts runDemo): the real bot against the fakes, the conversation in order, and
// every message's Block Kit written with a Block Kit Builder link that opens exactly those blocks.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDemo } from '../../scripts/demo.js';

describe('npm run demo', () => {
  let outDir: string | undefined;
  afterEach(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('plays promote, a refused self-approval, two approvals, progress, success, then an approved rollback', async () => {
    outDir = mkdtempSync(join(tmpdir(), 'promote-bot-demo-'));
    const { transcript, files } = await runDemo({ outDir });

    const story: RegExp[] = [
      /^ *[\d.]+s @dana: \/promote api dev→prod$/,
      /\(only visible to @dana\) Planning api dev → prod/,
      /^ *[\d.]+s promote-bot posted message 1:$/,
      /PROMOTE API: DEV → PROD/,
      /⚠ \*DELETES\* queue `OldQueue` — data will be lost/,
      /⚠ \*REPLACES\* table `UsersTable`/,
      /\[ Approve \] \[ Reject \] \[ Cancel \]/,
      /promote-bot sent @(alice|bob) a direct message:$/,
      /@dana asks for your approval of a promotion: \*Promote api: dev → prod \(https:\/\/slack\.com\/archives\//,
      /@alice opened the promote-bot app/,
      /promote-bot showed @alice their Home tab/,
      /WAITING FOR YOUR APPROVAL/,
      /@dana clicked \[ Approve \] on message 1/,
      /\(only visible to @dana\) You requested this \w+, so you cannot approve it/,
      /@alice clicked \[ Approve \] on message 1/,
      /\+ ✅ @alice approved/,
      /@bob clicked \[ Approve \] on message 1/,
      /\+ ✅ Approved by @alice, @bob — executing/,
      /│ promote-bot replied in the thread of message 1:$/,
      /│ +Executing… 0\/5 resources/,
      /│ promote-bot replied in the thread of message 1 \(also sent to #deploys\):$/,
      /│ +✅ Promoted api to prod/,
      /@dana: \/rollback api prod/,
      /^ *[\d.]+s promote-bot posted message 2:$/,
      /ROLLBACK API: PROD/,
      /@alice clicked \[ Approve \] on message 2/,
      /│ +Executing… 0\/5 resources/,
      /│ +✅ Rolled back api on prod/,
    ];
    let at = -1;
    for (const line of story) {
      const found = transcript.findIndex((l, i) => i > at && line.test(l));
      expect(found, `${line} after line ${at}:\n${transcript.join('\n')}`).toBeGreaterThan(at);
      at = found;
    }
    // Threads are indented, and every progress edit stays in its thread.
    expect(transcript.filter((l) => l.includes('Executing…')).every((l) => l.includes('│'))).toBe(true);

    expect(readdirSync(outDir).sort()).toEqual([...files, 'index.md'].sort());
    expect(files[0]).toBe('01-message-1.json');
    for (const file of files) {
      const written = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as { blocks: unknown[]; builder: string };
      const [base, fragment] = written.builder.split('#');
      expect(base).toBe('https://app.slack.com/block-kit-builder');
      expect(JSON.parse(decodeURIComponent(fragment!))).toEqual({ blocks: written.blocks });
    }
    const first = JSON.parse(readFileSync(join(outDir, files[0]!), 'utf8')) as { blocks: Array<{ type: string }> };
    expect(first.blocks.some((b) => b.type === 'actions')).toBe(true);
    expect(readFileSync(join(outDir, 'index.md'), 'utf8')).toContain('(01-message-1.json)');
  }, 90_000);
});
