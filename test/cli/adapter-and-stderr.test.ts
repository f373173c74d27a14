/** Choosing the WebGPU adapter (--adapter, PASTICHE_ADAPTER), and the CLI's stderr without Dawn's native noise. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NativeNoiseFilter } from '../../src/cli/native-noise-filter.ts';
import { adaptersListedByDawn, matchAdapterName, parseAdapterChoice } from '../../src/gpu/adapter-choice.ts';
import { REPO_ROOT } from '../helpers/shared-data.ts';

const DAWN_LIMIT_NOTE = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

function filtered(chunks: string[]): string {
  let out = '';
  const filter = new NativeNoiseFilter((text) => (out += text));
  for (const chunk of chunks) filter.push(chunk);
  filter.end();
  return out;
}

describe('NativeNoiseFilter', () => {
  it("drops Dawn's start-up notes and the Vulkan loader's search, even split across chunks", () => {
    const noise = DAWN_LIMIT_NOTE + 'Warning: vkCreateInstance: Found no drivers!\n    at CheckVkSuccessImpl (/x/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)\n\n';
    const text = `${noise}pastiche: No WebGPU adapter: reason\n`;
    for (const size of [1, 7, 50, text.length]) {
      const chunks = text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      expect(filtered(chunks)).toBe('pastiche: No WebGPU adapter: reason\n');
    }
  });

  it('passes everything else unchanged: other warnings, progress bars without a newline, a held prefix at the end', () => {
    expect(filtered(['Warning: your style image is tiny\n'])).toBe('Warning: your style image is tiny\n');
    let out = '';
    const filter = new NativeNoiseFilter((text) => (out += text));
    filter.push('\r[####      ] 40%');
    expect(out).toBe('\r[####      ] 40%'); // at once, not at the next newline
    filter.push('\r[########  ] 80%');
    expect(out).toBe('\r[####      ] 40%\r[########  ] 80%');
    expect(filtered(['Warn'])).toBe('Warn');
  });
});

describe('adapter choice', () => {
  it('reads power preferences and name parts', () => {
    expect(parseAdapterChoice(undefined, 'x')).toEqual({ kind: 'power', powerPreference: 'high-performance', source: 'default' });
    expect(parseAdapterChoice('low-power', '--adapter')).toEqual({ kind: 'power', powerPreference: 'low-power', source: '--adapter' });
    expect(parseAdapterChoice(' NVIDIA ', 'PASTICHE_ADAPTER')).toEqual({ kind: 'name', name: 'NVIDIA', source: 'PASTICHE_ADAPTER' });
    const listed = adaptersListedByDawn("no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'\n * backend: 'vulkan', name: 'NVIDIA RTX'\n");
    expect(listed).toEqual([{ backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }, { backend: 'vulkan', name: 'NVIDIA RTX' }]);
    expect(matchAdapterName(listed.map((a) => a.name), 'rtx')).toBe('NVIDIA RTX');
    expect(matchAdapterName(listed.map((a) => a.name), 'amd')).toBeUndefined();
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env } });

  it('info uses the adapter named by --adapter (any case) and says how it was chosen, with no Dawn notes on stderr', () => {
    const run = cli(['info', '--adapter', 'LLVMPIPE']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^adapter: .*llvmpipe/m);
    expect(run.stdout).toMatch(/^chosen by: name contains 'LLVMPIPE' \(--adapter\)/m);
    expect(run.stderr).not.toMatch(/artificially reduced|Warning/);
  }, 60_000);

  it('PASTICHE_ADAPTER naming no adapter is one line listing the adapters there are (info still lists the models)', () => {
    const run = cli(['info'], { PASTICHE_ADAPTER: 'no-such-gpu' });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^adapter: {3}none \(no WebGPU adapter's name contains 'no-such-gpu' \(PASTICHE_ADAPTER\); the adapters here: 'llvmpipe[^']*'\. Give a part of one of these names, or high-performance or low-power\)$/m);
    expect(run.stdout).toMatch(/^bundled models \(offline\)/m);
  }, 60_000);
});
