import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    // dawn.node is a native addon: child processes isolate it better than worker threads.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/setup-env.ts', 'test/helpers/setup-assertions.ts'],
  },
});
