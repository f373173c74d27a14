import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { vulkanDriverManifestsExist } from '../../src/gpu/vulkan-drivers.ts';

const probe = fileURLToPath(new URL('./fixtures/open-device.ts', import.meta.url));
const empty = mkdtempSync(join(tmpdir(), 'pastiche-no-vulkan-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

/** Runs the probe in a child Node with `env` added to (or, for undefined values, removed from) this one's. */
function openDevice(env: Record<string, string | undefined>) {
  const childEnv: Record<string, string | undefined> = { ...process.env, XDG_RUNTIME_DIR: tmpdir(), ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return spawnSync(process.execPath, ['--import', 'tsx', probe], { env: childEnv, encoding: 'utf8', timeout: 60_000 });
}

describe.runIf(process.platform === 'linux')('no WebGPU adapter', () => {
  it('prints one clear message with the fix for each platform, and none of the driver search noise', () => {
    const run = openDevice({ VK_ICD_FILENAMES: join(empty, 'missing_icd.json'), VK_DRIVER_FILES: undefined });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^No WebGPU adapter: no Vulkan driver is installed/);
    expect(run.stderr).toMatch(/Linux: .*\n.*scripts\/install-system-deps\.sh.*\n.*mesa-vulkan-drivers/);
    expect(run.stderr).toMatch(/macOS: .*Metal/);
    expect(run.stderr).toMatch(/Windows: .*driver/);
    expect(run.stderr).not.toMatch(/Warning|vkCreateInstance|loader_get_json|\.cpp/);
  });

  it('still opens the device where a driver is installed', () => {
    const run = openDevice({});
    expect(run.stderr).not.toMatch(/No WebGPU adapter/);
    expect(run.stdout).toMatch(/^adapter: /);
    expect(run.status).toBe(0);
  });

  it('finds driver manifests where the Vulkan loader looks', async () => {
    const manifest = join(empty, 'share', 'vulkan', 'icd.d', 'test_icd.json');
    mkdirSync(dirname(manifest), { recursive: true });
    writeFileSync(manifest, '{}');
    // An explicit list is all the loader reads: only its files count.
    expect(await vulkanDriverManifestsExist({ VK_DRIVER_FILES: join(empty, 'a.json'), XDG_DATA_DIRS: join(empty, 'share') })).toBe(false);
    expect(await vulkanDriverManifestsExist({ VK_ICD_FILENAMES: `${join(empty, 'a.json')}:${manifest}` })).toBe(true);
    // Otherwise the XDG data and config directories (and /etc) are searched.
    expect(await vulkanDriverManifestsExist({ HOME: empty, XDG_DATA_DIRS: join(empty, 'share') })).toBe(true);
    expect(await vulkanDriverManifestsExist({ HOME: empty, XDG_CONFIG_DIRS: join(empty, 'share') })).toBe(true);
  });
});
