import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./fixtures/open-device.ts', import.meta.url));
const hideWebgpu = fileURLToPath(new URL('./fixtures/hide-webgpu.mjs', import.meta.url));

/** Opens a device in a child Node; with `hide`, the 'webgpu' package cannot be found. */
function openDevice(hide: boolean) {
  const args = ['--import', 'tsx', ...(hide ? ['--import', hideWebgpu] : []), probe];
  return spawnSync(process.execPath, args, { env: { ...process.env, XDG_RUNTIME_DIR: tmpdir() }, encoding: 'utf8', timeout: 60_000 });
}

describe('Node without the optional webgpu package', () => {
  it('says the package is missing and how to install it', () => {
    const run = openDevice(true);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^No WebGPU adapter: Node needs the 'webgpu' package \(Dawn, an optional dependency of pastiche\) and it is not installed: run `npm install webgpu`/);
  });

  it('loads the package where it is installed (the hook is what hides it)', () => {
    const run = openDevice(false);
    expect(run.stderr).not.toMatch(/'webgpu' package/);
    expect(run.stdout).toMatch(/^adapter: /);
  });
});
