/**
 * `pastiche stylize`'s command line turned into a checked plan, before any model loads: the method (from
 * --method, or the default for the styles given), its option values checked against its definition, the
 * styles with their blend weights, and the image files every option names.
 */
import type { MethodDefinition, OptionSpec, OptionValues } from '../../nets/methods/contract.ts';
import { checkOptionValue, notTakenError, optionFlag, parseOptionText, resolveOptions } from '../../nets/methods/options.ts';
import { defaultMethodId, METHODS, methodById } from '../../nets/methods/registry.ts';

/** What commander hands the action: the fixed flags and every method option, as typed. */
export interface RawStylizeOptions {
  style?: string[];
  blend?: string;
  method?: string;
  output: string;
  mirror?: string;
  cache?: string;
  [option: string]: unknown;
}

export interface StylizePlan {
  method: MethodDefinition;
  /** Option values (defaults applied), image options excepted: those are in `imageOptions` as paths. */
  values: OptionValues;
  imageOptions: { id: string; path: string }[];
  styles: string[];
  /** One weight per style, summing to 1. */
  blend: number[];
}

/** Every option of every method, once per id: the command line has one flag per option id. */
export function allOptionSpecs(methods: readonly MethodDefinition[] = METHODS): OptionSpec[] {
  const seen = new Map<string, OptionSpec>();
  for (const m of methods) for (const o of m.options) if (!seen.has(o.id)) seen.set(o.id, o);
  return [...seen.values()];
}

/** commander's attribute for a flag: `--save-every` → `saveEvery`. */
export function attributeOf(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Blend weights as typed: non-negative numbers, one per style, not all zero; normalised. */
export function parseBlend(text: string | undefined, styles: readonly string[], method: MethodDefinition): number[] {
  const uniform = styles.map(() => 1 / Math.max(styles.length, 1));
  if (text === undefined) return uniform;
  if (method.styles === 'none') throw new Error(`--blend is not used by --method ${method.id}: it weighs several --style images`);
  const weights = text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new Error(`--blend takes non-negative numbers separated by commas, got '${text}'`);
  if (styles.length < 2) throw new Error('--blend weighs several --style images; with one --style there is nothing to blend, so leave it out');
  if (weights.length !== styles.length) {
    const example = styles.map((_, i) => (i === 0 ? '0.7' : (0.3 / (styles.length - 1)).toFixed(2))).join(',');
    throw new Error(`--blend has ${weights.length} value(s) for ${styles.length} --style images: give one weight per style (for example --blend ${example})`);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('--blend: the weights must not all be zero');
  return weights.map((w) => w / total);
}

/**
 * Checks the command line against the chosen method's definition. `typed`: the option attributes whose
 * value came from the command line (not a default). Throws one clear error for the first problem.
 */
export function planStylize(raw: RawStylizeOptions, typed: ReadonlySet<string>): StylizePlan {
  const styles = raw.style ?? [];
  const method = methodById(raw.method ?? defaultMethodId(styles.length));
  const chosen = raw.method !== undefined ? '' : styles.length > 0 ? ' (the default with --style)' : ' (the default without --style)';
  if (method.styles === 'none' && styles.length > 0) {
    const takers = METHODS.filter((m) => m.styles !== 'none').map((m) => m.id);
    throw new Error(`--style is not used by --method ${method.id}${chosen}${method.styleHint ? ` (${method.styleHint})` : ''}; it is taken by ${takers.join(', ')}`);
  }
  if (method.styles !== 'none' && styles.length === 0) throw new Error(`--method ${method.id} needs at least one --style image`);
  if (method.styles === 'one' && styles.length > 1) throw new Error(`--method ${method.id} takes one --style image, got ${styles.length}`);

  const given: Record<string, unknown> = {};
  const imageOptions: { id: string; path: string }[] = [];
  for (const spec of allOptionSpecs()) {
    const attribute = attributeOf(optionFlag(spec.id));
    if (!typed.has(attribute)) continue;
    const own = method.options.find((o) => o.id === spec.id);
    if (!own) {
      const err = notTakenError(method, spec.id, 'flag');
      throw chosen ? new Error(err.message.replace(`--method ${method.id}`, `--method ${method.id}${chosen}`)) : err;
    }
    const text = raw[attribute] as string | true;
    if (own.kind === 'image') {
      if (typeof text !== 'string') throw new Error(`${optionFlag(own.id)} needs an image file`);
      imageOptions.push({ id: own.id, path: text });
      continue;
    }
    given[own.id] = checkOptionValue(method, own, parseOptionText(method, own, text), 'flag');
  }
  const values = resolveOptions(method, given, 'flag');
  const blend = parseBlend(raw.blend, styles, method);
  // Image options count as given for the method's own checks (their pixels come later).
  method.checkInputs?.(styles.length, { ...values, ...Object.fromEntries(imageOptions.map((o) => [o.id, true])) });
  return { method, values, imageOptions, styles, blend };
}
