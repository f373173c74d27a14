import { currentTape } from '../../autograd/tape.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import type { HostTensor, HostTensorMap } from '../weights/host-tensor.ts';

/**
 * A net's named parameters on the GPU. Lookups check shapes, so a wrong or truncated weights file is
 * reported by name instead of producing a wrong image.
 */
export class ParamStore {
  private readonly tensors = new Map<string, Tensor>();

  constructor(
    readonly runtime: Runtime,
    /** Shown in errors: which net or file the parameters came from. */
    readonly source: string,
  ) {}

  static fromHost(runtime: Runtime, weights: HostTensorMap, source: string): ParamStore {
    const store = new ParamStore(runtime, source);
    for (const [name, t] of weights) store.set(name, runtime.upload(t.data, t.shape));
    return store;
  }

  set(name: string, tensor: Tensor): void {
    this.tensors.get(name)?.dispose();
    this.tensors.set(name, tensor);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The parameter `name`, which must have `shape` when given. */
  get(name: string, shape?: readonly number[]): Tensor {
    const t = this.tensors.get(name);
    if (!t) {
      throw new Error(`${this.source}: missing parameter '${name}'${shape ? ` ${formatShape(shape)}` : ''}; the weights file does not fit this net (wrong model, or a truncated file)`);
    }
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`${this.source}: parameter '${name}' has shape ${formatShape(t.shape)}, this net needs ${formatShape(shape)}`);
    }
    return t;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** All parameters in insertion order (for optimisers). */
  list(): Tensor[] {
    return [...this.tensors.values()];
  }

  /** Reads every parameter back, e.g. to write a safetensors file. */
  async toHost(): Promise<HostTensorMap> {
    // All readbacks are requested before any is awaited, so they share one flush and map in parallel.
    const entries = [...this.tensors];
    const data = await Promise.all(entries.map(([, t]) => t.data()));
    const out: HostTensorMap = new Map();
    entries.forEach(([name, t], i) => out.set(name, { shape: [...t.shape], data: data[i]! } satisfies HostTensor));
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/**
 * Frees an intermediate activation early during inference. While a tape records, backward rules may
 * still read any activation, so then the enclosing scope frees them instead.
 */
export function release(t: Tensor): void {
  if (currentTape() === null) t.dispose();
}
