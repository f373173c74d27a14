// The page's tabs: one per method of the registry (src/nets/methods/registry.ts), each made from its
// definition (page-method.ts) with the page adapter `methods/<id>.ts` when there is one, plus the
// page's own demos (a `methods/<name>.ts` whose default export is a whole StyleMethod). Files whose
// name starts with `_` are helpers. Each file loads as its own chunk, so one that fails to load (say,
// while someone is halfway through writing it) shows up as a disabled tab with the error instead of
// taking the page down.

import { methods as definitions } from '../index.browser.ts';
import type { StyleMethod } from './methods.ts';
import { pageMethod, type PageAdapter } from './page-method.ts';

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

function isPageAdapter(value: unknown): value is PageAdapter {
  const a = value as Partial<PageAdapter> | null;
  return typeof a === 'object' && a !== null && typeof a.method === 'string' && typeof a.order === 'number';
}

function idFromPath(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.ts$/, '');
}

/** A stand-in for a method file that failed to load, so the failure is visible on the page. */
function brokenMethod(id: string, label: string, reason: string): StyleMethod {
  return {
    id,
    label,
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

type Loaded = { file: string; adapter: PageAdapter } | { file: string; method: StyleMethod };

/** Every tab, each asked whether it can run; sorted by `order`, then label. */
export async function loadMethods(): Promise<RegisteredMethod[]> {
  const loaded = await Promise.all(
    Object.entries(loaders).map(async ([file, load]): Promise<Loaded> => {
      try {
        const mod = await load();
        if (isPageAdapter(mod.default)) return { file, adapter: mod.default };
        if (isStyleMethod(mod.default)) return { file, method: mod.default };
        return { file, method: brokenMethod(idFromPath(file), idFromPath(file), `methods/${idFromPath(file)}.ts has no default export of a page adapter or a StyleMethod.`) };
      } catch (err) {
        console.error(`pastiche: failed to load ${file}`, err);
        const id = idFromPath(file);
        return { file, method: brokenMethod(id, definitions.find((d) => d.id === id)?.label ?? id, `Failed to load: ${(err as Error).message}`) };
      }
    }),
  );
  const adapters = new Map<string, PageAdapter>();
  const tabs: StyleMethod[] = [];
  for (const entry of loaded) {
    if ('adapter' in entry) adapters.set(entry.adapter.method, entry.adapter);
    else tabs.push(entry.method);
  }
  definitions.forEach((definition, i) => {
    // A page-only file of the same name (a broken adapter) stands in for the tab.
    if (tabs.some((t) => t.id === definition.id)) return;
    tabs.push(pageMethod(definition, adapters.get(definition.id), 100 + i));
  });
  const sorted = tabs.sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  return Promise.all(sorted.map(async (method) => ({ method, availability: await availabilityOf(method) })));
}
