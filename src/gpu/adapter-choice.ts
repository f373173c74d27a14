/**
 * Which WebGPU adapter to use: `high-performance`, `low-power` (a power preference, as in the WebGPU API)
 * or a part of an adapter's name (e.g. `llvmpipe`, `NVIDIA`), from the caller or, in Node, the
 * PASTICHE_ADAPTER environment variable. Pure: device.ts does the asking.
 */

export type AdapterChoice =
  | { kind: 'power'; powerPreference: GPUPowerPreference; source: string }
  | { kind: 'name'; name: string; source: string };

/** The choice a value asks for; empty or undefined means the default (high-performance). `source` says where it came from. */
export function parseAdapterChoice(value: string | undefined, source: string): AdapterChoice {
  const text = (value ?? '').trim();
  if (text === '') return { kind: 'power', powerPreference: 'high-performance', source: 'default' };
  if (text === 'high-performance' || text === 'low-power') return { kind: 'power', powerPreference: text, source };
  return { kind: 'name', name: text, source };
}

/** How `info` and errors describe a choice, e.g. "name contains 'llvmpipe' (PASTICHE_ADAPTER)". */
export function describeAdapterChoice(choice: AdapterChoice): string {
  const what = choice.kind === 'power' ? `power preference ${choice.powerPreference}` : `name contains '${choice.name}'`;
  return `${what} (${choice.source})`;
}

/** The adapter names listed in Dawn's "no suitable backends found / Available adapters:" error, with their backends. */
export function adaptersListedByDawn(message: string): { backend: string; name: string }[] {
  const found: { backend: string; name: string }[] = [];
  for (const match of message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) found.push({ backend: match[1]!, name: match[2]! });
  return found;
}

/** The first name containing `wanted`, ignoring case (Dawn's own match is case-sensitive). */
export function matchAdapterName(names: readonly string[], wanted: string): string | undefined {
  const lower = wanted.toLowerCase();
  return names.find((name) => name.toLowerCase().includes(lower));
}

/** The error for a name that matches no adapter: lists the ones there are and the other accepted values. */
export function noAdapterNamedError(choice: Extract<AdapterChoice, { kind: 'name' }>, available: readonly string[]): Error {
  const list = available.length > 0 ? available.map((n) => `'${n}'`).join(', ') : '(none found)';
  return new Error(
    `no WebGPU adapter's name contains '${choice.name}' (${choice.source}); the adapters here: ${list}. ` +
      'Give a part of one of these names, or high-performance or low-power',
  );
}
