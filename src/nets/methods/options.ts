/**
 * Option values checked against a method's definition: the same rules, and the same messages, for the
 * command line (values typed as text) and the library API (values as numbers, strings, images).
 */
import type { MethodDefinition, OptionSpec, OptionValue, OptionValues } from './contract.ts';
import { METHODS } from './registry.ts';

/** How errors name options and methods: as command-line flags or as API keys. */
export type OptionNaming = 'flag' | 'key';

/** `styleWeight` → `--style-weight` (or the spec's own `flag`). */
export function optionFlag(id: string, methods: readonly MethodDefinition[] = METHODS): string {
  for (const m of methods) {
    const flag = m.options.find((o) => o.id === id)?.flag;
    if (flag) return flag;
  }
  return `--${id.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function optionName(id: string, naming: OptionNaming): string {
  return naming === 'flag' ? optionFlag(id) : `option '${id}'`;
}

function methodName(method: MethodDefinition, naming: OptionNaming): string {
  return naming === 'flag' ? `--method ${method.id}` : `method '${method.id}'`;
}

/** The methods whose definitions declare option `id`. */
export function methodsTaking(id: string, methods: readonly MethodDefinition[] = METHODS): MethodDefinition[] {
  return methods.filter((m) => m.options.some((o) => o.id === id));
}

/** The error for an option `method` does not take, naming the methods that do. */
export function notTakenError(method: MethodDefinition, id: string, naming: OptionNaming, methods: readonly MethodDefinition[] = METHODS): Error {
  const takers = methodsTaking(id, methods).map((m) => m.id);
  const name = optionName(id, naming);
  if (takers.length === 0) return new Error(`${name} is not an option of any method`);
  return new Error(`${name} is not used by ${methodName(method, naming)}; it is taken by ${takers.join(', ')}`);
}

const isRgbImage = (v: unknown): boolean => {
  const image = v as { width?: unknown; height?: unknown; data?: unknown } | null;
  return typeof image === 'object' && image !== null && typeof image.width === 'number' && typeof image.height === 'number' && image.data instanceof Float32Array;
};

/** Checks one value against its spec; the error says what the option takes. */
export function checkOptionValue(method: MethodDefinition, spec: OptionSpec, value: unknown, naming: OptionNaming): OptionValue {
  const name = optionName(spec.id, naming);
  const range = (s: { min: number; max: number }) => `[${s.min}, ${s.max}]`;
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      const ok = typeof value === 'number' && Number.isFinite(value) && value >= spec.min && value <= spec.max && (spec.kind === 'number' || Number.isInteger(value));
      if (!ok) throw new Error(`${name} must be ${spec.kind === 'integer' ? 'an integer' : 'a number'} in ${range(spec)}, got ${formatValue(value)}`);
      return value;
    }
    case 'choice': {
      if (typeof value !== 'string' || value === '') throw new Error(`${name} takes a string, got ${formatValue(value)}`);
      if (!spec.open && !spec.choices.some((c) => c.value === value)) {
        throw new Error(`${name} for ${methodName(method, naming)} takes ${spec.choices.map((c) => c.value).join(' | ')}${spec.bare !== undefined && naming === 'flag' ? ' (or no value)' : ''}, got '${value}'`);
      }
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new Error(`${name} is true or false, got ${formatValue(value)}`);
      return value;
    case 'number-list': {
      const ok = Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= spec.min && v <= spec.max);
      if (!ok) throw new Error(`${name} takes numbers in ${range(spec)}${naming === 'flag' ? ' separated by commas' : ''}, got ${formatValue(value)}`);
      return value as readonly number[];
    }
    case 'text':
      if (typeof value !== 'string' || value === '' || (spec.pattern && !spec.pattern.test(value))) throw new Error(`${name} takes text like '${spec.example}', got ${formatValue(value)}`);
      return value;
    case 'image':
      if (!isRgbImage(value)) throw new Error(`${name} takes an image, got ${formatValue(value)}`);
      return value as OptionValue;
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/**
 * The values a method runs with: each given one checked (an option the method does not take is an
 * error naming the methods that do), then the defaults of the rest. `undefined` counts as not given.
 */
export function resolveOptions(method: MethodDefinition, given: Readonly<Record<string, unknown>>, naming: OptionNaming = 'key'): OptionValues {
  const out: Record<string, OptionValue | undefined> = {};
  for (const [id, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const spec = method.options.find((o) => o.id === id);
    if (!spec) throw notTakenError(method, id, naming);
    out[id] = checkOptionValue(method, spec, value, naming);
  }
  for (const spec of method.options) {
    if (out[spec.id] === undefined && 'default' in spec && spec.default !== undefined) out[spec.id] = spec.default;
  }
  return out;
}

/** A value typed on the command line (`true`: the flag without a value) as the spec's type. */
export function parseOptionText(method: MethodDefinition, spec: OptionSpec, text: string | true): unknown {
  const name = optionFlag(spec.id);
  if (text === true) {
    if (spec.kind === 'boolean') return true;
    if (spec.kind === 'choice' && spec.bare !== undefined) return spec.bare;
    throw new Error(`${name} needs a value for --method ${method.id}`);
  }
  switch (spec.kind) {
    case 'number':
    case 'integer':
      return text.trim() === '' ? NaN : Number(text);
    case 'number-list':
      return text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
    case 'boolean':
      if (text === 'true' || text === 'yes') return true;
      if (text === 'false' || text === 'no') return false;
      return text;
    default:
      return text;
  }
}

/** One line of help for an option: its description, range or choices, and default. */
export function optionHelp(spec: OptionSpec): string {
  const parts = [spec.description];
  if (spec.kind === 'number' || spec.kind === 'integer' || spec.kind === 'number-list') parts.push(`${spec.min}..${spec.max}`);
  if (spec.kind === 'choice' && !spec.open && !spec.description.includes('|')) parts.push(spec.choices.map((c) => c.value).join(' | '));
  if ('default' in spec && spec.default !== undefined) parts.push(`default ${String(spec.default)}`);
  return parts.join('; ');
}
