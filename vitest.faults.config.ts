// The fault suite (`npm run test:faults`): the bot killed, restarted, cut off from Redis, at every step of a
// promotion and a rollback. Separate from `npm test` (which excludes test/faults) so the two never run twice.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
