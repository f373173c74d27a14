import type { PoolStats, BufferPool } from './buffer-pool.ts';
import type { GpuContext } from './device.ts';
import type { PipelineCache } from './pipelines.ts';
import type { UniformValues } from './program.ts';
import type { CommandRecorder } from './recorder.ts';
import type { TuningTable } from './tuning-table.ts';

export type DType = 'f32' | 'f16';
export type Shape = readonly number[];

/** Opaque slot for the autograd layer's bookkeeping (see src/autograd/tape.ts). */
export interface GradSource {
  readonly op: string;
}

let nextTensorId = 1;

/** A GPU buffer shared by a tensor and its views (reshapes); returned to the pool with the last one. */
export interface Storage {
  readonly buffer: GPUBuffer;
  refs: number;
  /** Kernel launches that bound the buffer writable so far (see `Runtime.derived`). */
  writes: number;
  /** Tensors computed from the contents, by key, with the `writes` they were computed at; freed with the storage. */
  derived: Map<string, { writes: number; tensor: Tensor }> | null;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function bytesFor(dtype: DType, size: number): number {
  // Storage buffers are read in 4-byte words; f16 data is padded to a whole word.
  return dtype === 'f32' ? size * 4 : Math.ceil(size / 2) * 4;
}

/** One kernel launch: which WGSL (name + variant), which tensors, which uniform values, how many workgroups. */
export interface KernelLaunch {
  /** Kernel name, shown in errors and GPU labels. */
  name: string;
  /** Everything that changes the WGSL text (vec width, tile size, dtype); part of the cache key. */
  variant?: string;
  /** Builds the WGSL; called once per (name, variant). */
  source: () => string;
  /** Storage bindings by their WGSL variable name. */
  bindings: Record<string, Tensor>;
  /** Values for the fields of the kernel's uniform struct. */
  params?: UniformValues;
  workgroups: readonly [number, number?, number?];
}

export interface RuntimeStats extends PoolStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  /** Nominal FLOPs of the convolutions, products and Gram matrices recorded so far (see CommandRecorder.counters). */
  flops: number;
  pipelines: number;
  liveTensors: number;
}

/**
 * What tensors and kernels use of the runtime that owns a tensor's buffer. Declared here, beside
 * Tensor, because each refers to the other; `GpuRuntime` (runtime.ts) implements it.
 */
export interface Runtime {
  readonly context: GpuContext;
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly recorder: CommandRecorder;
  /** Kernel variants tuned on this adapter; kernels fall back to their rules without an entry. */
  readonly tuning: TuningTable;
  readonly hasF16: boolean;
  /** Called by every Tensor's constructor. */
  track(tensor: Tensor): void;
  /** Called by `Tensor.dispose()`; the buffer goes back to the pool with the storage's last tensor. */
  releaseTensor(tensor: Tensor, storage: Storage): void;
  /** A new tensor with uninitialised contents (kernels write every element). */
  empty(shape: Shape, dtype?: DType): Tensor;
  /** A view of `x` with another shape of the same size; shares x's buffer (no copy). */
  reshape(x: Tensor, shape: Shape): Tensor;
  /**
   * A tensor computed from `source`'s contents by `build` (a transformed filter), kept with
   * source's storage and reused under the same `key` until a kernel launch binds that storage
   * writable (an optimiser step) or the storage is freed: it is never stale. It belongs to the
   * source: do not dispose it, and do not write it.
   */
  derived(source: Tensor, key: string, build: () => Tensor): Tensor;
  /** A tensor holding `values` (converted to f16 when asked). */
  upload(values: ArrayLike<number>, shape: Shape, dtype?: DType): Tensor;
  /** Records one kernel launch. Nothing runs until a flush; nothing is read back. */
  launch(launch: KernelLaunch): void;
  readTensor(tensor: Tensor): Promise<Float32Array>;
  /** Submits all recorded work; resolves once it is queued (and reports device errors). */
  flush(): Promise<void>;
  /** Waits until the GPU has finished everything submitted so far. */
  sync(): Promise<void>;
  stats(): RuntimeStats;
  /** Frees every live tensor and pooled buffer, and destroys the device. */
  destroy(): void;
}

/**
 * An n-dimensional array in a GPU buffer. Images and activations are NHWC: channels are the
 * innermost (fastest-varying) axis, so a pixel's channels are contiguous and kernels can read
 * them as vec4. Memory is explicit: call `dispose()` or create tensors inside `scope()`.
 */
export class Tensor {
  readonly id = nextTensorId++;
  readonly shape: Shape;
  readonly size: number;
  /** Whether gradients flow to this tensor (parameters, or results of recorded ops). */
  requiresGrad = false;
  /** Set by the autograd layer when a recorded op produced this tensor. */
  gradSource: GradSource | null = null;
  private storage: Storage | null;

  constructor(
    readonly runtime: Runtime,
    shape: Shape,
    readonly dtype: DType,
    storage: Storage,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape ${formatShape(shape)}`);
    }
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.storage = storage;
    storage.refs++;
    runtime.track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** The GPU buffer; throws if the tensor was disposed (a use-after-free would read garbage). */
  get buffer(): GPUBuffer {
    if (!this.storage) throw new Error(`tensor #${this.id} ${formatShape(this.shape)} was used after dispose()`);
    return this.storage.buffer;
  }

  /** The shared storage, for views such as reshape (throws if disposed). */
  get sharedStorage(): Storage {
    if (!this.storage) throw new Error(`tensor #${this.id} ${formatShape(this.shape)} was used after dispose()`);
    return this.storage;
  }

  get byteLength(): number {
    return bytesFor(this.dtype, this.size);
  }

  dispose(): void {
    const storage = this.storage;
    if (!storage) return;
    this.storage = null;
    this.runtime.releaseTensor(this, storage);
  }

  /** Reads the values back (as float32, whatever the storage dtype). */
  async data(): Promise<Float32Array> {
    return this.runtime.readTensor(this);
  }

  /** Reads a one-element tensor back as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got ${formatShape(this.shape)}`);
    return (await this.data())[0]!;
  }

  toString(): string {
    return `Tensor#${this.id}(${formatShape(this.shape)}, ${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}
