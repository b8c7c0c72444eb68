// Crash points for the fault suite (test/faults): a test starts the bot with PROMOTE_CRASH_AT=<name> and the
// process kills itself with SIGKILL when it reaches that point, as a power cut would. No effect when unset.
const target = process.env.PROMOTE_CRASH_AT;

export function crashPoint(name: string): void {
  if (target && target === name) process.kill(process.pid, 'SIGKILL');
}
