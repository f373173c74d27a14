import type { DType } from './tensor.ts';

/**
 * Kernel families: a kernel name and its WGSL as a function of a plain parameter object. A launch's
 * pipeline-cache key is the name plus the canonical text of the parameters, and the source is built
 * from those same parameters, so the WGSL can only depend on what is in the key: a setting left out
 * of the key cannot silently reuse another variant's pipeline.
 */

/** The name, cache variant and source of one launch, spread into `runtime.launch({ ... })`. */
export interface KernelProgram {
  name: string;
  /** Canonical text of the parameters ('' when there are none). */
  variant: string;
  source: () => string;
}

export interface KernelFamily<P extends object> {
  readonly name: string;
  /** The launch fields of variant `params`: key derived from `params`, WGSL built from them alone. */
  program(params: P): KernelProgram;
  /** Every parameter combination the kernels launch with (for the key tests). */
  variants(): readonly P[];
}

/** A defined family, with its parameter type erased, for tests that check every family. */
export interface RegisteredKernelFamily {
  readonly name: string;
  programs(): KernelProgram[];
}

const registry: RegisteredKernelFamily[] = [];

/** Every family defined by the modules imported so far. */
export function registeredKernelFamilies(): readonly RegisteredKernelFamily[] {
  return registry;
}

/**
 * Defines a family. `build` must be a pure function of its parameters; `variants` lists the
 * combinations the launching code can produce.
 */
export function kernelFamily<P extends object>(name: string, build: (params: P) => string, variants: () => readonly P[]): KernelFamily<P> {
  const program = (params: P): KernelProgram => ({ name, variant: canonicalParams(params, name), source: () => build(params) });
  registry.push({ name, programs: () => variants().map(program) });
  return { name, program, variants };
}

/**
 * The canonical text of a parameter object: keys sorted, undefined fields left out, nested objects
 * and arrays written out, strings quoted unless they are plain words (so '1' and 1 differ). Equal
 * settings give equal text; anything but plain data is refused.
 */
export function canonicalParams(params: object, kernel = 'kernel'): string {
  const text = canonical(params, kernel, 'params');
  return text === '()' ? '' : text.slice(1, -1);
}

/** Strings written bare: nothing that reads as a separator, a number, a boolean or null. */
const SAFE_STRING = /^(?!(true|false|null)$)[A-Za-z_][\w.-]*$/;

function canonical(value: unknown, kernel: string, path: string): string {
  switch (typeof value) {
    case 'boolean':
      return String(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${kernel}: variant parameter ${path} is ${value}; use a finite number`);
      return String(value);
    case 'string':
      return SAFE_STRING.test(value) ? value : JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) text += (i > 0 ? ',' : '') + canonical(value[i], kernel, `${path}[${i}]`);
        return `${text}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new Error(`${kernel}: variant parameter ${path} is not a plain object; pass plain numbers, strings, booleans, arrays or objects`);
      }
      const record = value as Record<string, unknown>;
      let text = '(';
      // Launches run this per dispatch: plain loops, keys sorted in place.
      for (const key of Object.keys(record).sort()) {
        const field = record[key];
        if (field === undefined) continue;
        text += `${text.length > 1 ? ',' : ''}${key}=${canonical(field, kernel, `${path}.${key}`)}`;
      }
      return `${text})`;
    }
    default:
      throw new Error(`${kernel}: variant parameter ${path} is a ${typeof value}; pass plain numbers, strings, booleans, arrays or objects`);
  }
}

/** Every combination of the listed values of each field (the cartesian product), for `variants`. */
export function everyCombination<P extends object>(choices: { [K in keyof P]: readonly P[K][] }): P[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(choices) as [string, readonly unknown[]][]) {
    out = out.flatMap((partial) => values.map((v) => ({ ...partial, [key]: v })));
  }
  return out as P[];
}

/** The storage dtypes a kernel may be specialised to. */
export const STORAGE_DTYPES: readonly DType[] = ['f32', 'f16'];
