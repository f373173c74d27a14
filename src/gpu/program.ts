import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { TypeInfo } from 'wgsl_reflect';

/**
 * What the runtime learns from a kernel's WGSL by reflection: its bindings by name and the layout
 * of its uniform struct, so callers pass `{ x: tensor }` and `{ height: 7 }` instead of indices and bytes.
 */
export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'read-only-storage' | 'storage' | 'uniform';
}

interface UniformField {
  name: string;
  offset: number;
  /** 'f32' | 'i32' | 'u32' for each scalar lane */
  scalar: 'f32' | 'i32' | 'u32';
  /** lanes per element (1 for scalars, N for vecN) */
  lanes: number;
  /** number of elements (1 unless an array) and the byte stride between them */
  count: number;
  stride: number;
}

export interface ProgramLayout {
  bindings: BindingInfo[];
  /** The uniform struct, if the kernel has one (always named `params` by convention). */
  uniform: { binding: number; size: number; fields: UniformField[] } | null;
  entryPoint: string;
}

function scalarOf(type: TypeInfo | null, kernel: string, field: string): 'f32' | 'i32' | 'u32' {
  const name = type?.name ?? '';
  if (name === 'f32' || name === 'i32' || name === 'u32') return name;
  throw new Error(`kernel '${kernel}': uniform field '${field}' has type ${name}; only f32/i32/u32 scalars, vectors and arrays are supported`);
}

const SUFFIX_SCALAR = { u: 'u32', i: 'i32', f: 'f32' } as const;

/** Lanes and scalar type of a scalar or vector type: `f32`, `vec4<u32>` or the shorthand `vec4u`. */
function lanesOf(kernel: string, field: string, type: TypeInfo): { lanes: number; scalar: 'f32' | 'i32' | 'u32' } {
  const m = /^vec([234])([uif])?$/.exec(type.name);
  if (!m) return { lanes: 1, scalar: scalarOf(type, kernel, field) };
  const scalar = m[2] ? SUFFIX_SCALAR[m[2] as 'u' | 'i' | 'f'] : scalarOf((type as TypeInfo & { format: TypeInfo | null }).format, kernel, field);
  return { lanes: Number(m[1]), scalar };
}

function describeField(kernel: string, name: string, offset: number, type: TypeInfo): UniformField {
  if (type.isArray) {
    const arr = type as TypeInfo & { format: TypeInfo; count: number; stride: number };
    return { name, offset, ...lanesOf(kernel, name, arr.format), count: arr.count, stride: arr.stride };
  }
  return { name, offset, ...lanesOf(kernel, name, type), count: 1, stride: 0 };
}

export function reflectProgram(kernel: string, source: string): ProgramLayout {
  const reflect = new WgslReflect(source);
  const entry = reflect.entry.compute[0];
  if (!entry) throw new Error(`kernel '${kernel}': WGSL has no @compute entry point`);
  const bindings: BindingInfo[] = [];
  for (const v of reflect.storage) {
    if (v.group !== 0) throw new Error(`kernel '${kernel}': binding '${v.name}' must be in @group(0)`);
    bindings.push({ name: v.name, binding: v.binding, kind: v.access === 'read' ? 'read-only-storage' : 'storage' });
  }
  let uniform: ProgramLayout['uniform'] = null;
  if (reflect.uniforms.length > 1) throw new Error(`kernel '${kernel}': at most one uniform struct is supported`);
  const u = reflect.uniforms[0];
  if (u) {
    const members = (u.type as TypeInfo & { members?: { name: string; offset: number; type: TypeInfo }[] }).members;
    if (!members) throw new Error(`kernel '${kernel}': uniform '${u.name}' must be a struct`);
    uniform = {
      binding: u.binding,
      size: Math.max(16, Math.ceil(u.type.size / 16) * 16),
      fields: members.map((m) => describeField(kernel, m.name, m.offset, m.type)),
    };
    bindings.push({ name: u.name, binding: u.binding, kind: 'uniform' });
  }
  bindings.sort((a, b) => a.binding - b.binding);
  return { bindings, uniform, entryPoint: entry.name };
}

export type UniformValues = Record<string, number | readonly number[]>;

/** Writes uniform values into `target` (a 4-byte-aligned view) following the reflected layout. */
export function packUniforms(kernel: string, layout: NonNullable<ProgramLayout['uniform']>, values: UniformValues, target: DataView): void {
  for (const field of layout.fields) {
    const value = values[field.name];
    if (value === undefined) throw new Error(`kernel '${kernel}': uniform '${field.name}' was not given`);
    const flat = typeof value === 'number' ? [value] : value;
    const expected = field.lanes * field.count;
    if (flat.length > expected || (typeof value !== 'number' && field.count === 1 && flat.length !== expected)) {
      throw new Error(`kernel '${kernel}': uniform '${field.name}' takes ${expected} values, got ${flat.length}`);
    }
    for (let i = 0; i < flat.length; i++) {
      const element = Math.floor(i / field.lanes);
      const lane = i % field.lanes;
      const at = field.offset + element * field.stride + lane * 4;
      const v = flat[i]!;
      if (field.scalar === 'f32') target.setFloat32(at, v, true);
      else if (field.scalar === 'i32') target.setInt32(at, v, true);
      else target.setUint32(at, v, true);
    }
  }
  for (const name of Object.keys(values)) {
    if (!layout.fields.some((f) => f.name === name)) throw new Error(`kernel '${kernel}': unknown uniform '${name}'`);
  }
}
