import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalParams, everyCombination, kernelFamily, registeredKernelFamilies, type KernelProgram, type RegisteredKernelFamily } from '../../src/gpu/kernel-family.ts';
import { PipelineCache } from '../../src/gpu/pipelines.ts';

const KERNELS_DIR = join(import.meta.dirname, '../../src/gpu/kernels');

/** The families of every kernel module (imported here so that each registers itself). */
let families: readonly RegisteredKernelFamily[] = [];
beforeAll(async () => {
  const files = readdirSync(KERNELS_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) await import(pathToFileURL(join(KERNELS_DIR, file)).href);
  families = [...registeredKernelFamilies()];
});

const keyOf = (p: KernelProgram) => (p.variant ? `${p.name}:${p.variant}` : p.name);

/** Keys that two programs with different WGSL share (what a hand-made key could get wrong). */
function sharedKeys(programs: readonly KernelProgram[]): string[] {
  const wgslByKey = new Map<string, string>();
  const shared = new Set<string>();
  for (const p of programs) {
    const key = keyOf(p);
    const wgsl = p.source();
    const seen = wgslByKey.get(key);
    if (seen === undefined) wgslByKey.set(key, wgsl);
    else if (seen !== wgsl) shared.add(key);
  }
  return [...shared];
}

/** A device that records pipelines without compiling them (the cache logic only). */
function fakeDevice(): GPUDevice {
  // The shader-stage flags are a WebGPU global, absent in Node without a device.
  Object.assign(globalThis, { GPUShaderStage: globalThis.GPUShaderStage ?? { VERTEX: 1, FRAGMENT: 2, COMPUTE: 4 } });
  const fake = {
    createBindGroupLayout: (d: { label?: string }) => ({ label: d.label }),
    createPipelineLayout: (d: { label?: string }) => ({ label: d.label }),
    createShaderModule: (d: { label?: string }) => ({ label: d.label, getCompilationInfo: () => Promise.resolve({ messages: [] }) }),
    pushErrorScope: () => undefined,
    popErrorScope: () => Promise.resolve(null),
    createComputePipelineAsync: (d: { label?: string }) => Promise.resolve({ label: d.label }),
  };
  return fake as unknown as GPUDevice;
}

describe('canonical variant parameters', () => {
  it('ignores field order and undefined fields, and writes nested values out', () => {
    expect(canonicalParams({ b: 1, a: 'x' })).toBe(canonicalParams({ a: 'x', b: 1, c: undefined }));
    expect(canonicalParams({ tile: { tm: 64, tn: 16 }, v: [1, 2] })).toBe('tile=(tm=64,tn=16),v=[1,2]');
    expect(canonicalParams({})).toBe('');
    expect(canonicalParams({ s: 'a,b' })).toBe('s="a,b"');
    expect(canonicalParams({ tile: { tm: 64 } })).not.toBe(canonicalParams({ tile: { tm: 128 } }));
    expect(canonicalParams({ half: false })).not.toBe(canonicalParams({ half: true }));
    // A string never reads as another type.
    expect(canonicalParams({ n: '1' })).not.toBe(canonicalParams({ n: 1 }));
    expect(canonicalParams({ b: 'true' })).not.toBe(canonicalParams({ b: true }));
    expect(canonicalParams({ dtype: 'f16' })).toBe('dtype=f16');
  });

  it('refuses what is not plain data, naming the kernel and the field', () => {
    expect(() => canonicalParams({ f: () => 1 }, 'k')).toThrow(/k: variant parameter params\.f is a function/);
    expect(() => canonicalParams({ n: Number.NaN }, 'k')).toThrow(/k: variant parameter params\.n is NaN/);
    expect(() => canonicalParams({ m: new Map() }, 'k')).toThrow(/params\.m is not a plain object/);
  });

  it('enumerates every combination of the listed values', () => {
    expect(everyCombination({ a: [1, 2], b: [true, false] })).toEqual([
      { a: 1, b: true },
      { a: 1, b: false },
      { a: 2, b: true },
      { a: 2, b: false },
    ]);
  });
});

describe('kernel families', () => {
  it('covers the kernels, each name once', () => {
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['conv2d_tiled', 'conv2d_subgroup', 'conv2d_direct', 'conv2d_bias_grad', 'matmul', 'gram_partial', 'gram_backward', 'binary_collapsed', 'reduce_columns', 'norm_apply', 'cast']) {
      expect(names).toContain(name);
    }
  });

  it('detects two different WGSL texts behind one key', () => {
    // What a family whose source read a setting missing from its parameters would produce.
    const leaky = (vec: boolean): KernelProgram => ({ name: 'leaky', variant: '', source: () => (vec ? 'vec4' : 'scalar') });
    expect(sharedKeys([leaky(false), leaky(true)])).toEqual(['leaky']);
    const family = kernelFamily('test_family', (p: { vec: boolean }) => (p.vec ? 'vec4' : 'scalar'), () => everyCombination({ vec: [false, true] }));
    expect(sharedKeys(family.variants().map((v) => family.program(v)))).toEqual([]);
  });

  it('gives every variant of every family a key no variant with other WGSL shares', () => {
    for (const family of families) {
      const programs = family.programs();
      expect(programs.length, family.name).toBeGreaterThan(0);
      expect(sharedKeys(programs), family.name).toEqual([]);
    }
  });

  it('returns one pipeline per distinct WGSL text, and the same one for the same parameters', () => {
    const cache = new PipelineCache(fakeDevice());
    const byWgsl = new Map<string, Set<object>>();
    for (const family of families) {
      // A spread of each family's variants: reflecting every one of them takes minutes.
      const programs = family.programs();
      const step = Math.max(1, Math.floor(programs.length / 12));
      for (const p of programs.filter((_, i) => i % step === 0)) {
        const program = cache.get(p.name, p.variant, p.source);
        expect(cache.get(p.name, p.variant, p.source)).toBe(program);
        const wgsl = p.source();
        byWgsl.set(wgsl, (byWgsl.get(wgsl) ?? new Set()).add(program));
      }
    }
    const programsPerWgsl = [...byWgsl.values()];
    const all = programsPerWgsl.flatMap((s) => [...s]);
    // No pipeline serves two texts...
    expect(new Set(all).size).toBe(all.length);
    // ...and each text compiles once, except for variants whose parameters differ but code does not.
    expect(cache.size).toBe(all.length);
    expect(byWgsl.size).toBeGreaterThan(150);
  });
});
