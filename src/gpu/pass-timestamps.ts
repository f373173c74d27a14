import type { PassTimer } from './recorder.ts';

/**
 * Begin/end timestamps for every compute pass submitted on one device, into one query set (needs the
 * 'timestamp-query' feature). `begin()` starts a measurement; `collect()` resolves the used queries,
 * reads them back in one map and returns the summed pass time in ms (`collectEach()`: each pass's) —
 * null when nothing was timed, a pass went untimed because the set was full, or the timestamps were
 * not increasing. Used as the recorder's timer by the autotuner and the bench (also for tfjs's
 * passes), and by the bench's per-kernel profile.
 */
export class PassTimestamps implements PassTimer {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly staging: GPUBuffer;
  private used = 0;
  private overflowed = false;

  /** `capacity`: queries in the set (two per pass); WebGPU allows at most 4096. */
  constructor(
    private readonly device: GPUDevice,
    readonly capacity = 4096,
    private readonly label = 'pass timestamps',
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity, label });
    this.resolveBuffer = device.createBuffer({ size: capacity * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: `${label} resolve` });
    this.staging = device.createBuffer({ size: capacity * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${label} staging` });
  }

  begin(): void {
    this.used = 0;
    this.overflowed = false;
  }

  nextPair(): [number, number] | null {
    if (this.used + 2 > this.capacity) {
      this.overflowed = true;
      return null;
    }
    const pair: [number, number] = [this.used, this.used + 1];
    this.used += 2;
    return pair;
  }

  /** Call after the measured work has fully completed. */
  async collect(): Promise<number | null> {
    const each = await this.collectEach();
    return each && each.reduce((a, b) => a + b, 0);
  }

  /** Like `collect`, but the time of each pass (ms), in the order the passes began. */
  async collectEach(): Promise<number[] | null> {
    const used = this.used;
    if (used === 0 || this.overflowed) return null;
    const encoder = this.device.createCommandEncoder({ label: `${this.label} readback` });
    encoder.resolveQuerySet(this.querySet, 0, used, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.staging, 0, used * 8);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, used * 8);
    const stamps = new BigUint64Array(this.staging.getMappedRange(0, used * 8).slice(0));
    this.staging.unmap();
    const ms: number[] = [];
    for (let i = 0; i < used; i += 2) {
      const begin = stamps[i]!;
      const end = stamps[i + 1]!;
      if (begin === 0n || end < begin) return null;
      ms.push(Number(end - begin) / 1e6);
    }
    return ms;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.staging.destroy();
  }
}
