// Finds the style-transfer methods: every `methods/<id>.ts` whose default export is a StyleMethod.
// Files whose name starts with `_` are helpers, not methods. Each method loads as its own chunk, so a
// method that fails to load (say, while someone is halfway through writing it) shows up as a
// disabled tab with the error instead of taking the page down.

import type { StyleMethod } from './methods.ts';

const loaders = import.meta.glob<{ default?: unknown }>(['./methods/*.ts', '!./methods/_*.ts', '!./methods/*.d.ts']);

export interface RegisteredMethod {
  method: StyleMethod;
  /** true, or why the method cannot run here (shown on its disabled tab). */
  availability: true | string;
}

function isStyleMethod(value: unknown): value is StyleMethod {
  const m = value as Partial<StyleMethod> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.id === 'string' &&
    typeof m.label === 'string' &&
    Array.isArray(m.controls) &&
    typeof m.available === 'function' &&
    typeof m.run === 'function'
  );
}

function idFromPath(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.ts$/, '');
}

/** A stand-in for a method file that failed to load, so the failure is visible on the page. */
function brokenMethod(file: string, reason: string): StyleMethod {
  const id = idFromPath(file);
  return {
    id,
    label: id,
    summary: `methods/${id}.ts could not be loaded.`,
    order: 1000,
    styleInputs: 'none',
    controls: [],
    available: async () => reason,
    run: async () => {
      throw new Error(reason);
    },
  };
}

/** Asks a method whether it can run (again after its inputs changed, e.g. a weights file was loaded). */
export async function availabilityOf(method: StyleMethod): Promise<true | string> {
  try {
    const result = await method.available();
    if (result === true) return true;
    return typeof result === 'string' && result ? result : 'Not available in this browser.';
  } catch (err) {
    return `Not available: ${(err as Error).message}`;
  }
}

/** Loads every method and asks each whether it can run; sorted by `order`, then label. */
export async function loadMethods(): Promise<RegisteredMethod[]> {
  const entries = await Promise.all(
    Object.entries(loaders).map(async ([file, load]): Promise<StyleMethod> => {
      try {
        const mod = await load();
        if (isStyleMethod(mod.default)) return mod.default;
        return brokenMethod(file, `methods/${idFromPath(file)}.ts has no default export of a StyleMethod.`);
      } catch (err) {
        console.error(`pastiche: failed to load ${file}`, err);
        return brokenMethod(file, `Failed to load: ${(err as Error).message}`);
      }
    }),
  );
  const methods = entries.sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  return Promise.all(methods.map(async (method) => ({ method, availability: await availabilityOf(method) })));
}
