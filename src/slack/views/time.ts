// Durations and relative times for messages. `now` is always passed in, never read from the clock.
// The function's own module: the package root loads all of date-fns (about 10 MB of memory).
import { formatDistanceStrict } from 'date-fns/formatDistanceStrict';
import { escapeMrkdwn } from '../escape.js';

/** "45s", "3m 12s", "1h 02m" (seconds dropped once it runs for hours). */
export function formatDuration(ms: number): string {
  const totalSeconds = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
  return `${seconds}s`;
}

function parse(iso: string | undefined): Date | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** "2 hours ago" / "in 4 hours" (mrkdwn-safe); an unreadable time is shown escaped as it is. */
export function relative(iso: string, now: Date): string {
  const d = parse(iso);
  if (!d) return escapeMrkdwn(iso);
  // formatDistanceStrict would say "0 seconds ago".
  if (Math.abs(d.getTime() - now.getTime()) < 1000) return 'just now';
  return formatDistanceStrict(d, now, { addSuffix: true });
}

/** "2025-03-01 16:00 UTC": absolute, so it reads the same for every reviewer. */
export function utc(iso: string): string {
  const d = parse(iso);
  return d ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : escapeMrkdwn(iso);
}

/** Milliseconds between two ISO times (end defaults to now); undefined when start is unreadable. */
export function elapsed(startIso: string | undefined, endIso: string | undefined, now: Date): number | undefined {
  const start = parse(startIso);
  if (!start) return undefined;
  return (parse(endIso) ?? now).getTime() - start.getTime();
}

/** "14:32 UTC": a time later today, for a window measured in minutes. */
export function clockTime(iso: string): string {
  const d = parse(iso);
  return d ? `${d.toISOString().slice(11, 16)} UTC` : escapeMrkdwn(iso);
}

/** A CloudWatch alarm's name from its ARN (after `:alarm:`), as people know it; not escaped. */
export function alarmLabel(arn: string): string {
  const at = arn.indexOf(':alarm:');
  return at < 0 ? arn : arn.slice(at + ':alarm:'.length);
}
