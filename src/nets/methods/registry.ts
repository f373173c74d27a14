/**
 * Every style-transfer method, in the order the CLI's help and the page's tabs show them. Adding a
 * method is one folder under src/nets/methods/ with a `definition.ts`, and one line here: it then
 * appears in `pastiche stylize --method`, on the page and in the library API.
 */
import type { MethodDefinition } from './contract.ts';
import { adainMethod } from './adain/definition.ts';
import { feedForwardMethod } from './feed-forward/definition.ts';
import { gatysMethod } from './gatys/definition.ts';
import { magentaMethod } from './magenta/definition.ts';
import { wctMethod } from './wct/definition.ts';

export const METHODS: readonly MethodDefinition[] = [
  feedForwardMethod,
  magentaMethod,
  adainMethod,
  gatysMethod,
  wctMethod,
];

/** The method a user picks with no method named: the bundled feed-forward style without a style image, Magenta with one. */
export function defaultMethodId(styleCount: number): string {
  return styleCount > 0 ? 'magenta' : 'feed-forward';
}

/** The definition for an id or alias, or undefined. */
export function findMethod(name: string): MethodDefinition | undefined {
  return METHODS.find((m) => m.id === name || (m.aliases ?? []).includes(name));
}

/** The definition for an id or alias; an unknown name is an error listing them all. */
export function methodById(name: string): MethodDefinition {
  const found = findMethod(name);
  if (!found) throw new Error(`unknown method '${name}'; available: ${METHODS.map((m) => m.id + (m.aliases?.length ? ` (or ${m.aliases.join(', ')})` : '')).join(', ')}`);
  return found;
}
