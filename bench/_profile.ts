import { startScenario } from '../test/support/scenario.js';
import { ackLoadRequests, measureAckLoad } from './load.js';
import { startRedis } from './redis.js';
import { Budget } from './support.js';
import { between, manyServicesConfig, seedServices } from './world.js';

const redis = await startRedis({ own: true });
const world = { n: 250, channelOf: (i: number) => `C0SVC${i}`, accounts: 5 };
const s = await startScenario({
  redisUrl: redis.url,
  aws: { latencyMs: between(40, 120), changeSetStepMs: 500 },
  config: manyServicesConfig(world),
  stacks: false,
  env: { NODE_OPTIONS: '--import /tmp/prof-hook.mjs' },
});
seedServices(s.aws, world);
const r = await measureAckLoad(s, new Budget(300_000), ackLoadRequests(s, 500, world.channelOf), 20, {
  waitForPlansMs: 30_000,
});
console.log(JSON.stringify({ ack: r.ack, el: r.eventLoopP99Ms, sum: r.summariesAfter }));
await s.bot.kill('SIGTERM');
await s.close();
await redis.stop([]);
process.exit(0);
