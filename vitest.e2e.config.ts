// Browser tests of the demo page (npm run test:e2e): Vite's dev server + Debian's Chromium via
// Puppeteer. Kept apart from the unit tests (vitest.config.ts), which exclude test/e2e.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
