/**
 * The ten Collaborative-Distillation checkpoints (VGG-19 distilled 16x: encoder and decoder per level
 * 1..5) as one weight map in pastiche's layout: `enc{n}.{layer}.weight` HWIO and `.bias`, likewise
 * `dec{n}.…`. Each file is identified by its name (the repository's dated names); the `*_aux` 1x1
 * convs, used only for distillation training, are dropped.
 */
import { hostTensor, type HostTensorMap } from '../host-tensor.ts';
import { convOihwToHwio, readPth } from './pth.ts';

/** File name → role and level, as the repository's `{n}SE.pth` / `{n}SD.pth` links resolve. */
export const DISTILLED_16X_FILES: ReadonlyMap<string, { role: 'enc' | 'dec'; level: number }> = new Map([
  ['20191110-133713_E20.pth', { role: 'enc', level: 1 }],
  ['20191110-132713_E20.pth', { role: 'enc', level: 2 }],
  ['20191110-132705_E20.pth', { role: 'enc', level: 3 }],
  ['20191110-132643_E20.pth', { role: 'enc', level: 4 }],
  ['20191109-211322_E20.pth', { role: 'enc', level: 5 }],
  ['20191111-091942_E20.pth', { role: 'dec', level: 1 }],
  ['20191111-091932_E20.pth', { role: 'dec', level: 2 }],
  ['20191111-091929_E20.pth', { role: 'dec', level: 3 }],
  ['20191111-092553_E20.pth', { role: 'dec', level: 4 }],
  ['20191110-204615_E20.pth', { role: 'dec', level: 5 }],
] as const);

export interface CheckpointFile {
  path: string;
  bytes: Uint8Array;
}

/** Reads and renames the checkpoints; every one of the ten must be there once. */
export async function distilledVggFromCheckpoints(files: readonly CheckpointFile[]): Promise<HostTensorMap> {
  const result: HostTensorMap = new Map();
  const seen = new Set<string>();
  for (const { path, bytes } of files) {
    const name = path.split(/[\\/]/).pop()!;
    const entry = DISTILLED_16X_FILES.get(name);
    if (!entry) {
      throw new Error(`${path}: not one of the distilled-16x checkpoints (expected one of ${[...DISTILLED_16X_FILES.keys()].join(', ')})`);
    }
    const prefix = `${entry.role}${entry.level}`;
    if (seen.has(prefix)) throw new Error(`${path}: a second file for ${prefix}`);
    seen.add(prefix);
    for (const [key, tensor] of await readPth(bytes, path)) {
      if (key.includes('_aux.')) continue;
      result.set(`${prefix}.${key}`, tensor.shape.length === 4 ? convOihwToHwio(tensor) : hostTensor(tensor.shape, tensor.data));
    }
  }
  const missing = [...DISTILLED_16X_FILES.values()].map((e) => `${e.role}${e.level}`).filter((p) => !seen.has(p));
  if (missing.length > 0) throw new Error(`distilled-16x: no checkpoint for ${missing.join(', ')}`);
  return result;
}
