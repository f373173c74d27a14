import { BufferPool } from './buffer-pool.ts';
import { createGpuContext, type DeviceOptions, type GpuContext } from './device.ts';
import { GpuKernelError } from './errors.ts';
import { float16ToFloat32, float32ToFloat16 } from './half.ts';
import { PipelineCache } from './pipelines.ts';
import { packUniforms } from './program.ts';
import { CommandRecorder } from './recorder.ts';
import { StagingPool } from './readback.ts';
import { keep, trackInScope } from './scope.ts';
import { bytesFor, formatShape, sizeOf, Tensor, type DType, type KernelLaunch, type Runtime, type RuntimeStats, type Shape, type Storage } from './tensor.ts';
import { loadTuning } from './tuning-store.ts';
import { adapterKey, TuningTable } from './tuning-table.ts';

export type { KernelLaunch, Runtime, RuntimeStats } from './tensor.ts';

/** Device, buffer pool, pipeline cache and command recorder: everything a kernel launch needs. */
export class GpuRuntime implements Runtime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly recorder: CommandRecorder;
  /** Kernel variants tuned on this adapter (see autotune.ts); kernels fall back to their rules without an entry. */
  readonly tuning: TuningTable;
  private readonly staging: StagingPool;
  private readonly liveTensors = new Set<Tensor>();
  private readonly maxWorkgroups: number;
  private lostError: Error | null = null;

  constructor(readonly context: GpuContext) {
    this.device = context.device;
    const limits = context.limits;
    this.pool = new BufferPool(this.device, Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize));
    this.pipelines = new PipelineCache(this.device);
    this.staging = new StagingPool(this.device);
    this.recorder = new CommandRecorder(this.device, this.pool, this.staging);
    this.tuning = new TuningTable(adapterKey(context.adapterInfo));
    this.maxWorkgroups = limits.maxComputeWorkgroupsPerDimension;
    this.device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      const kind = error.constructor.name.replace(/^GPU|Error$/g, '').toLowerCase() || 'device';
      this.recorder.fail(new GpuKernelError(kind, error.message));
    });
    void context.lost.then((err) => {
      this.lostError = err;
      this.recorder.fail(err);
      // The next initRuntime() starts a fresh device instead of handing out this dead one.
      if (defaultRuntime === this) {
        defaultRuntime = null;
        pendingInit = null;
      }
    });
  }

  get hasF16(): boolean {
    return this.context.features.has('shader-f16');
  }

  /** Called by every Tensor's constructor. */
  track(tensor: Tensor): void {
    this.liveTensors.add(tensor);
    trackInScope(tensor);
  }

  releaseTensor(tensor: Tensor, storage: Storage): void {
    this.liveTensors.delete(tensor);
    if (--storage.refs === 0) {
      this.releaseDerived(storage);
      this.pool.release(storage.buffer);
      // With nothing recorded or waiting to submit, nothing can still read it: reuse at once
      // (e.g. a video loop that frees a frame's output right after reading it back).
      if (this.recorder.idle) this.pool.recycle(this.pool.takePendingReleases());
    }
  }

  /** A new tensor with uninitialised contents (kernels write every element). */
  empty(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.assertAlive();
    if (dtype === 'f16' && !this.hasF16) throw new Error("f16 tensors need the adapter feature 'shader-f16', which this adapter lacks");
    const bytes = bytesFor(dtype, sizeOf(shape));
    const buffer = this.pool.acquire(Math.max(bytes, 4), `tensor ${formatShape(shape)}`);
    return new Tensor(this, shape, dtype, { buffer, refs: 0, writes: 0, derived: null });
  }

  /** A view of `x` with another shape of the same size; shares x's buffer (no copy). */
  reshape(x: Tensor, shape: Shape): Tensor {
    const size = sizeOf(shape);
    if (size !== x.size) throw new Error(`reshape: cannot view ${formatShape(x.shape)} (${x.size} values) as ${formatShape(shape)} (${size} values)`);
    return new Tensor(this, shape, x.dtype, x.sharedStorage);
  }

  /** See `Runtime.derived`. Derived tensors are not counted as live: their source owns them. */
  derived(source: Tensor, key: string, build: () => Tensor): Tensor {
    const storage = source.sharedStorage;
    const cached = storage.derived?.get(key);
    if (cached && cached.writes === storage.writes && !cached.tensor.disposed) return cached.tensor;
    cached?.tensor.dispose();
    const tensor = keep(build());
    if (tensor.sharedStorage === storage) throw new Error(`derived '${key}': build() returned a view of its source`);
    this.liveTensors.delete(tensor);
    (storage.derived ??= new Map()).set(key, { writes: storage.writes, tensor });
    return tensor;
  }

  private releaseDerived(storage: Storage): void {
    const derived = storage.derived;
    if (!derived) return;
    storage.derived = null;
    for (const { tensor } of derived.values()) tensor.dispose();
  }

  /** A tensor holding `values` (converted to f16 when asked). */
  upload(values: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): Tensor {
    const size = sizeOf(shape);
    if (values.length !== size) {
      throw new Error(`upload: shape ${formatShape(shape)} holds ${size} values but ${values.length} were given`);
    }
    const tensor = this.empty(shape, dtype);
    if (size === 0) return tensor;
    const bytes = dtype === 'f32' ? Float32Array.from(values) : float32ToFloat16(values, true);
    this.device.queue.writeBuffer(tensor.buffer, 0, bytes.buffer, bytes.byteOffset, tensor.byteLength);
    return tensor;
  }

  /** Records one kernel launch. Nothing runs until a flush; nothing is read back. */
  launch(launch: KernelLaunch): void {
    this.assertAlive();
    const program = this.pipelines.get(launch.name, launch.variant ?? '', launch.source);
    const buffers: GPUBuffer[] = [];
    const writable = new Set<GPUBuffer>();
    const readable = new Set<GPUBuffer>();
    for (const binding of program.layout.bindings) {
      if (binding.kind === 'uniform') continue;
      const tensor = launch.bindings[binding.name];
      if (!tensor) throw new Error(`kernel '${program.key}': no tensor given for binding '${binding.name}'`);
      const buffer = tensor.buffer; // throws for a disposed tensor
      if (binding.kind === 'storage') {
        writable.add(buffer);
        // Whatever was derived from this storage's contents is stale from here on.
        tensor.sharedStorage.writes++;
      } else readable.add(buffer);
      buffers.push(buffer);
    }
    for (const b of writable) {
      if (readable.has(b)) throw new Error(`kernel '${program.key}': a tensor is bound both as input and output`);
    }
    for (const name of Object.keys(launch.bindings)) {
      if (!program.layout.bindings.some((b) => b.name === name)) throw new Error(`kernel '${program.key}': unknown binding '${name}'`);
    }
    let uniforms: Uint8Array | null = null;
    if (program.layout.uniform) {
      uniforms = new Uint8Array(program.layout.uniform.size);
      packUniforms(program.key, program.layout.uniform, launch.params ?? {}, new DataView(uniforms.buffer));
    }
    const [x, y = 1, z = 1] = launch.workgroups;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 0 || n > this.maxWorkgroups) {
        throw new Error(`kernel '${program.key}': workgroup count ${n} is outside 0..${this.maxWorkgroups}`);
      }
    }
    if (x * y * z === 0) return;
    this.recorder.record({ program, buffers, uniforms, workgroups: [x, y, z] });
  }

  async readTensor(tensor: Tensor): Promise<Float32Array> {
    if (tensor.size === 0) return new Float32Array(0);
    let bytes: ArrayBuffer;
    try {
      bytes = await this.recorder.read(tensor.buffer, tensor.byteLength);
    } catch (err) {
      throw await this.lossBehind(err);
    }
    if (tensor.dtype === 'f32') return new Float32Array(bytes, 0, tensor.size);
    return float16ToFloat32(new Uint16Array(bytes, 0, tensor.size));
  }

  /** Submits all recorded work; resolves once it is queued (and reports device errors). */
  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** Waits until the GPU has finished everything submitted so far. */
  async sync(): Promise<void> {
    await this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  stats(): RuntimeStats {
    return {
      ...this.pool.getStats(),
      ...this.recorder.counters,
      pipelines: this.pipelines.size,
      liveTensors: this.liveTensors.size,
    };
  }

  /** Whether the device was lost (or destroyed): every later call fails with the loss's error. */
  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Frees every live tensor and pooled buffer, and destroys the device. */
  destroy(): void {
    for (const t of [...this.liveTensors]) t.dispose();
    this.pool.trim();
    this.device.destroy();
    if (defaultRuntime === this) {
      defaultRuntime = null;
      pendingInit = null;
    }
  }

  /**
   * A map that fails because the device is going away (an AbortError) is reported as the loss it is:
   * the device's lost promise settles a moment after such a map fails, so wait for it briefly.
   */
  private async lossBehind(err: unknown): Promise<unknown> {
    if (!this.lostError && (err as Error | null)?.name === 'AbortError') {
      await Promise.race([this.context.lost, new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    return this.lostError ?? err;
  }

  private assertAlive(): void {
    if (this.lostError) throw this.lostError;
  }
}

let defaultRuntime: Runtime | null = null;
let pendingInit: Promise<Runtime> | null = null;

/** Creates (once) the runtime that ops use by default. */
export function initRuntime(options: DeviceOptions = {}): Promise<Runtime> {
  if (defaultRuntime) return Promise.resolve(defaultRuntime);
  pendingInit ??= createGpuContext(options).then(async (ctx) => {
    const runtime = new GpuRuntime(ctx);
    await loadTuning(runtime); // choices from an earlier `pastiche tune` on this adapter, if any
    return (defaultRuntime = runtime);
  });
  pendingInit.catch(() => (pendingInit = null));
  return pendingInit;
}

export function getRuntime(): Runtime {
  if (!defaultRuntime) throw new Error('the GPU runtime is not initialised: call `await initRuntime()` first');
  return defaultRuntime;
}
