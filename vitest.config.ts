import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests import the library as its users do (`from 'pastiche'`): the Node entry.
  resolve: { alias: [{ find: /^pastiche$/, replacement: fileURLToPath(new URL('./src/index.node.ts', import.meta.url)) }] },
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
