/**
 * The module-graph rules `npm run lint` enforces (.dependency-cruiser.cjs), run on small source trees
 * written to a temporary folder: each rule must catch what it forbids, with this repository's
 * explicit `.ts` import specifiers.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = new URL('../..', import.meta.url).pathname;
const cruiser = join(repo, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = join(repo, '.dependency-cruiser.cjs');
const folders: string[] = [];

afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** Writes `files` (path → source) under a new folder and cruises its src/ with the project's rules. */
async function cruise(files: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const root = await mkdtemp(join(tmpdir(), 'pastiche-graph-'));
  folders.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const run = spawnSync(process.execPath, [cruiser, 'src', '--config', config, '--output-type', 'err'], { cwd: root, encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('module-graph lint rules', () => {
  it('passes a tree whose imports all point down', async () => {
    const result = await cruise({
      'src/gpu/tensor.ts': 'export interface Tensor { id: number }\n',
      'src/gpu/runtime.ts': "import type { Tensor } from './tensor.ts';\nexport const make = (): Tensor => ({ id: 1 });\n",
    });
    expect(result.output).toContain('no dependency violations');
    expect(result.status).toBe(0);
  });

  it('reports a cycle, also one closed by a type-only import', async () => {
    const result = await cruise({
      'src/gpu/tensor.ts': "import type { Runtime } from './runtime.ts';\nexport interface Tensor { runtime: Runtime }\n",
      'src/gpu/scope.ts': "import type { Tensor } from './tensor.ts';\nexport const owned = new Set<Tensor>();\n",
      'src/gpu/runtime.ts': "import { owned } from './scope.ts';\nexport class Runtime { live = owned; }\n",
    });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/no-circular: src\/gpu\/\w+\.ts/);
  });

  it('reports the engine importing a net, autograd importing a net, a shader importing a kernel, and the core importing either', async () => {
    const result = await cruise({
      'src/nets/vgg.ts': 'export const vgg = 1;\n',
      'src/gpu/runtime.ts': "import { vgg } from '../nets/vgg.ts';\nexport const r = vgg;\n",
      'src/autograd/tape.ts': "import { vgg } from '../nets/vgg.ts';\nexport const t = vgg;\n",
      'src/gpu/kernels/pad.ts': 'export const padKernel = 1;\n',
      'src/shaders/pad.wgsl.ts': "import { padKernel } from '../gpu/kernels/pad.ts';\nexport const wgsl = String(padKernel);\n",
      'src/gpu/grid.ts': "import { wgsl } from '../shaders/pad.wgsl.ts';\nexport const grid = wgsl;\n",
    });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('gpu-below-apps: src/gpu/runtime.ts → src/nets/vgg.ts');
    expect(result.output).toContain('autograd-below-nets: src/autograd/tape.ts → src/nets/vgg.ts');
    expect(result.output).toContain('shaders-below-kernels: src/shaders/pad.wgsl.ts → src/gpu/kernels/pad.ts');
    expect(result.output).toContain('gpu-core-below-shaders: src/gpu/grid.ts → src/shaders/pad.wgsl.ts');
  });
});
