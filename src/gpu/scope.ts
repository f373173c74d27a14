import { Tensor } from './tensor.ts';

/**
 * Scopes free every tensor created inside them except what the block returns. They nest: returned
 * tensors become owned by the enclosing scope. GPU memory is never left to the garbage collector.
 */
const scopeStack: Set<Tensor>[] = [];

export function trackInScope(tensor: Tensor): void {
  scopeStack[scopeStack.length - 1]?.add(tensor);
}

/** Removes a tensor from the current scope so it survives it (e.g. optimiser state). */
export function keep<T extends Tensor>(tensor: T): T {
  for (const s of scopeStack) s.delete(tensor);
  return tensor;
}

/** Tensors found in a returned value: a tensor, or arrays/objects (also nested) holding tensors. */
function collectTensors(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, seen);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectTensors(v, out, seen);
}

export function scope<T>(block: () => T): T {
  const created = new Set<Tensor>();
  scopeStack.push(created);
  let result: T;
  try {
    result = block();
    if (result instanceof Promise) throw new Error('scope() takes a synchronous block; await inside it is not supported (use keep() and dispose())');
  } catch (err) {
    scopeStack.pop();
    for (const t of created) t.dispose();
    throw err;
  }
  scopeStack.pop();
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  for (const t of created) {
    if (returned.has(t)) trackInScope(t);
    else t.dispose();
  }
  return result;
}
