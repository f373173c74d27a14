/**
 * Which stylize methods use which options: the one table behind the "option not used by this method"
 * errors, so an option typed on the command line is never silently ignored.
 */

export const METHOD_NAMES = ['gatys', 'transformer', 'adain', 'magenta', 'wct'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** Other names a method answers to. */
export const METHOD_ALIASES: Readonly<Record<string, MethodName>> = { 'feed-forward': 'transformer' };

/** The canonical method for a name or alias, or undefined. */
export function canonicalMethod(name: string): MethodName | undefined {
  return (METHOD_NAMES as readonly string[]).includes(name) ? (name as MethodName) : METHOD_ALIASES[name];
}

/** Option (commander's attribute name) → its flag and the methods that read it. Options every method reads are not listed. */
export const METHOD_OPTIONS: Readonly<Record<string, { flag: string; methods: readonly MethodName[] }>> = {
  style: { flag: '--style', methods: ['gatys', 'adain', 'magenta', 'wct'] },
  styleWeight: { flag: '--style-weight', methods: ['gatys', 'adain', 'magenta', 'wct'] },
  model: { flag: '--model', methods: ['transformer'] },
  tile: { flag: '--tile', methods: ['transformer', 'wct'] },
  iterations: { flag: '--iterations', methods: ['gatys'] },
  optimizer: { flag: '--optimizer', methods: ['gatys'] },
  contentWeight: { flag: '--content-weight', methods: ['gatys'] },
  styleLoss: { flag: '--style-loss', methods: ['gatys'] },
  tvWeight: { flag: '--tv-weight', methods: ['gatys'] },
  init: { flag: '--init', methods: ['gatys'] },
  seed: { flag: '--seed', methods: ['gatys'] },
  scales: { flag: '--scales', methods: ['gatys'] },
  saveEvery: { flag: '--save-every', methods: ['gatys'] },
  pooling: { flag: '--pooling', methods: ['gatys'] },
  learningRate: { flag: '--learning-rate', methods: ['gatys'] },
  styleScale: { flag: '--style-scale', methods: ['gatys', 'adain', 'wct'] },
  preserveColor: { flag: '--preserve-color', methods: ['gatys', 'adain', 'wct'] },
  alpha: { flag: '--alpha', methods: ['adain', 'wct'] },
  mask: { flag: '--mask', methods: ['adain', 'wct'] },
  levels: { flag: '--levels', methods: ['wct'] },
  decoder: { flag: '--decoder', methods: ['adain'] },
  strength: { flag: '--strength', methods: ['magenta'] },
};

/** Extra advice for options people often pair with the wrong method. */
const HINTS: Readonly<Record<string, Partial<Record<MethodName, string>>>> = {
  style: { transformer: "the transformer's style is fixed by its --model; use --method adain, magenta or gatys for a style image" },
  styleWeight: { transformer: "the transformer's style is fixed by its --model" },
};

/**
 * Throws a one-line error for the first option the user typed (`typed`: commander attribute names whose
 * value came from the command line) that `method` does not use, naming the methods that take it.
 */
export function checkOptionsForMethod(method: MethodName, typed: readonly string[]): void {
  for (const name of typed) {
    const entry = METHOD_OPTIONS[name];
    if (!entry || entry.methods.includes(method)) continue;
    const hint = HINTS[name]?.[method];
    throw new Error(`${entry.flag} is not used by --method ${method}${hint ? ` (${hint})` : ''}; it is taken by ${entry.methods.join(', ')}`);
  }
}
