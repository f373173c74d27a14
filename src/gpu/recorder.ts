import type { BufferPool } from './buffer-pool.ts';
import type { CompiledProgram } from './pipelines.ts';
import { mapAndCopy, type StagingPool } from './readback.ts';

export interface RecordedDispatch {
  program: CompiledProgram;
  /** One buffer per non-uniform binding, in the program's binding order. */
  buffers: GPUBuffer[];
  uniforms: Uint8Array | null;
  workgroups: [number, number, number];
}

/** Timing hooks for the bench: a query set the recorder writes begin/end timestamps into. */
export interface PassTimer {
  querySet: GPUQuerySet;
  /** Called with the query index pair for the next pass; returns false to skip timing it. */
  nextPair(): [number, number] | null;
}

/**
 * Records dispatches and submits them in batches: one command encoder and one compute pass per
 * batch. Work is only encoded when a batch is flushed (every `batchSize` dispatches, before a
 * readback, or when asked), which also lets pipelines finish compiling asynchronously meanwhile.
 * Batches run strictly in order through a promise chain.
 */
export class CommandRecorder {
  private pending: RecordedDispatch[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  /** Batches and readback copies handed to the promise chain and not yet submitted. */
  private batchesInFlight = 0;
  private uniformArena: GPUBuffer | null = null;
  private readonly uniformAlign: number;
  timer: PassTimer | null = null;
  /**
   * Counters for tests and the bench. `flops`: nominal floating-point operations of the recorded
   * convolutions (as direct convolutions), matrix products and Gram matrices, multiply-add = 2,
   * added by their ops (src/autograd/ops/work.ts), whichever algorithm runs them.
   */
  readonly counters = { dispatches: 0, submits: 0, readbacks: 0, flops: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly staging: StagingPool,
    private readonly batchSize = 256,
  ) {
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
  }

  record(dispatch: RecordedDispatch): void {
    this.pending.push(dispatch);
    this.counters.dispatches++;
    if (this.pending.length >= this.batchSize) this.enqueueBatch();
  }

  /** True when every recorded dispatch has been submitted: a buffer released now is read by nothing pending. */
  get idle(): boolean {
    return this.pending.length === 0 && this.batchesInFlight === 0;
  }

  /** Reports an error found asynchronously (uncaptured device error, device loss) at the next sync point. */
  fail(error: Error): void {
    this.failure ??= error;
  }

  /** Submits everything recorded so far and waits until it is on the queue. */
  async flush(): Promise<void> {
    this.enqueueBatch();
    await this.tail;
    this.throwIfFailed();
  }

  /** Copies `bytes` from `buffer` after all recorded work, and returns them. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.enqueueBatch();
    this.counters.readbacks++;
    this.batchesInFlight++; // the copy reads `buffer`: it must not be recycled before the copy is queued
    const copied = this.tail.then(() => {
      this.batchesInFlight--;
      this.throwIfFailed();
      const staging = this.staging.acquire(bytes);
      const encoder = this.device.createCommandEncoder({ label: 'readback' });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4);
      this.device.queue.submit([encoder.finish()]);
      return staging;
    });
    // Later batches only need the copy to be queued, not the map to finish.
    this.tail = copied.then(
      () => undefined,
      (err: Error) => this.fail(err),
    );
    const staging = await copied;
    try {
      return await mapAndCopy(staging, bytes);
    } finally {
      this.staging.release(staging);
      this.throwIfFailed();
    }
  }

  private throwIfFailed(): void {
    const failure = this.failure;
    if (failure) {
      this.failure = null;
      throw failure;
    }
  }

  private enqueueBatch(): void {
    const released = this.pool.takePendingReleases();
    if (this.pending.length === 0) {
      // Nothing recorded reads these buffers any more once the earlier batches are queued.
      this.tail = this.tail.then(() => this.pool.recycle(released));
      return;
    }
    const batch = this.pending;
    this.pending = [];
    this.batchesInFlight++;
    this.tail = this.tail
      .then(() => this.submit(batch))
      .catch((err: Error) => this.fail(err))
      .finally(() => {
        this.batchesInFlight--;
        this.pool.recycle(released);
      });
  }

  private async submit(batch: RecordedDispatch[]): Promise<void> {
    // Pipelines compile asynchronously; wait for those that are not ready yet.
    for (const d of batch) if (!d.program.ready) await d.program.pipeline;
    const uniformOffsets = this.uploadUniforms(batch);
    const encoder = this.device.createCommandEncoder({ label: 'pastiche batch' });
    const pair = this.timer?.nextPair() ?? null;
    const pass = encoder.beginComputePass(
      pair && this.timer
        ? { timestampWrites: { querySet: this.timer.querySet, beginningOfPassWriteIndex: pair[0], endOfPassWriteIndex: pair[1] } }
        : {},
    );
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      const program = d.program;
      const entries: GPUBindGroupEntry[] = [];
      let b = 0;
      for (const binding of program.layout.bindings) {
        if (binding.kind === 'uniform') {
          entries.push({ binding: binding.binding, resource: { buffer: this.uniformArena!, offset: uniformOffsets[i]!, size: program.layout.uniform!.size } });
        } else {
          entries.push({ binding: binding.binding, resource: { buffer: d.buffers[b++]! } });
        }
      }
      pass.setPipeline(program.ready!);
      pass.setBindGroup(0, this.device.createBindGroup({ layout: program.bindGroupLayout, entries, label: program.label }));
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.counters.submits++;
  }

  /** Packs every dispatch's uniforms into one buffer, written with a single queue.writeBuffer. */
  private uploadUniforms(batch: RecordedDispatch[]): number[] {
    const offsets: number[] = [];
    let total = 0;
    for (const d of batch) {
      offsets.push(total);
      if (d.uniforms) total += Math.ceil(d.uniforms.byteLength / this.uniformAlign) * this.uniformAlign;
    }
    if (total === 0) return offsets;
    if (!this.uniformArena || this.uniformArena.size < total) {
      // Earlier submits that still read the old arena keep it alive until they finish.
      this.uniformArena?.destroy();
      const size = Math.max(total, 64 * 1024);
      this.uniformArena = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform arena' });
    }
    const bytes = new Uint8Array(total);
    batch.forEach((d, i) => d.uniforms && bytes.set(d.uniforms, offsets[i]));
    this.device.queue.writeBuffer(this.uniformArena, 0, bytes);
    return offsets;
  }
}
