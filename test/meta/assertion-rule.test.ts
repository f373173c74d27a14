// The unit-test config makes a test that runs no assertion fail. This runs vitest on a throwaway
// project that uses the same setup file, with one empty test and one that asserts through
// `.rejects`, and checks that only the empty one fails.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import config from '../../vitest.config.ts';

const run = promisify(execFile);
const setupFile = resolve('test/helpers/setup-assertions.ts');
const vitestBin = resolve('node_modules/vitest/vitest.mjs');

describe('the assertion rule', () => {
  it('is one of the unit tests’ setup files', () => {
    expect(config.test?.setupFiles).toContain('test/helpers/setup-assertions.ts');
  });

  it('fails a test that runs no assertion and passes one that asserts through .rejects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pastiche-assertion-rule-'));
    try {
      await writeFile(
        join(dir, 'vitest.config.mjs'),
        `export default { test: { include: ['*.test.mjs'], setupFiles: [${JSON.stringify(setupFile)}] } };\n`,
      );
      await writeFile(
        join(dir, 'probe.test.mjs'),
        [
          "import { expect, it } from 'vitest';",
          "it('returns early', () => {});",
          "it('asserts a rejection', async () => { await expect(Promise.reject(new Error('no'))).rejects.toThrow('no'); });",
        ].join('\n'),
      );
      const result = await run(process.execPath, [vitestBin, 'run', '--root', dir, '--reporter', 'json'], { cwd: dir }).catch(
        (err: { code: number; stdout: string }) => err,
      );
      expect('code' in result ? result.code : 0, 'vitest exit status').toBe(1);
      const report = JSON.parse(result.stdout) as { testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
      const byTitle = Object.fromEntries(report.testResults[0]!.assertionResults.map((r) => [r.title, r]));
      expect(byTitle['returns early']?.status).toBe('failed');
      expect(byTitle['returns early']?.failureMessages.join('\n')).toMatch(/expected any number of assertion/);
      expect(byTitle['asserts a rejection']?.status).toBe('passed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
