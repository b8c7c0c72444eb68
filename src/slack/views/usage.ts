// The /promote and /rollback help text (mrkdwn).
import type { PromoteConfig } from '../../domain/config-model.js';
import { escapeMrkdwn as esc } from '../escape.js';

export function usageText(config: PromoteConfig): string {
  const lines = Object.values(config.services).map(
    (s) => `• ${esc(s.name)}: ${s.stages.map((st) => esc(st.name)).join(' → ')}`,
  );
  // Escaped: Slack reads `<service>` as a link even inside backticks, and would show "service" as a link.
  const forms = [
    '`/promote <service> <from>→<to>` (also `->`, `=>`, `to`, or `<from> <to>`); `/promote <service> <to>` promotes from the stage configured before it',
    '`/promote status [service]` · `/promote history <service> [stage]` · `/promote unhold <service> <stage>` · `/promote unlock <service> <stage>`',
    '`/rollback <service> [stage]` · `/rollback <service> <stage> to <release>`',
  ].map(esc);
  return ['*Usage*', ...forms, '*Services*', ...lines].join('\n');
}
