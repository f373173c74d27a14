import { GpuOutOfMemoryError } from './errors.ts';

/** Every tensor buffer can be bound as storage and copied in and out. (A function: in Node the
 * GPUBufferUsage global only exists once the device module has loaded dawn.node.) */
const tensorUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const MIN_BYTES = 256;
/** Free buffers kept for reuse never exceed the larger of this and twice the most ever live at once. */
export const MIN_POOLED_CAP = 256 * 2 ** 20;

/**
 * Rounds a request up to a size class: powers of two split into four steps (1, 1.25, 1.5, 1.75),
 * so reuse is likely while at most 25% of a buffer is slack.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  /** Bytes in buffers held by live tensors. */
  liveBytes: number;
  /** Bytes in free buffers waiting for reuse. */
  pooledBytes: number;
  /** Highest liveBytes seen since creation or the last resetPeak(). */
  peakBytes: number;
  /** Buffers created with device.createBuffer (grows only when the pool had nothing to reuse). */
  created: number;
  liveBuffers: number;
}

/**
 * Reuses GPU buffers by size class. A released buffer is not reusable at once: work that reads it
 * may still be recorded but unsubmitted, and a queue.writeBuffer into it would land before that work.
 * So releases wait in `pendingRelease` until the recorder has submitted everything recorded before.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pendingRelease: GPUBuffer[] = [];
  private stats: PoolStats = { liveBytes: 0, pooledBytes: 0, peakBytes: 0, created: 0, liveBuffers: 0 };
  /** The most bytes ever live at once (unlike peakBytes, never reset): sizes the free list's cap. */
  private highWater = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferBytes: number,
    /** The cap's floor: free buffers up to this many bytes are kept whatever the live set. */
    private readonly minPooledCap = MIN_POOLED_CAP,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    if (bytes > this.maxBufferBytes) throw new GpuOutOfMemoryError(label, bytes, this.maxBufferBytes);
    const actual = Math.min(sizeClass(bytes), this.maxBufferBytes);
    const list = this.free.get(actual);
    let buffer = list?.pop();
    if (buffer) {
      this.stats.pooledBytes -= actual;
    } else {
      buffer = this.device.createBuffer({ size: actual, usage: tensorUsage(), label });
      this.stats.created++;
    }
    this.stats.liveBytes += actual;
    this.stats.liveBuffers++;
    if (this.stats.liveBytes > this.stats.peakBytes) this.stats.peakBytes = this.stats.liveBytes;
    if (this.stats.liveBytes > this.highWater) this.highWater = this.stats.liveBytes;
    return buffer;
  }

  /** Marks a buffer as no longer owned; it becomes reusable after the next submit. */
  release(buffer: GPUBuffer): void {
    this.stats.liveBytes -= buffer.size;
    this.stats.liveBuffers--;
    this.pendingRelease.push(buffer);
  }

  /** Hands over the releases recorded so far; call when snapshotting work for a submit. */
  takePendingReleases(): GPUBuffer[] {
    const taken = this.pendingRelease;
    this.pendingRelease = [];
    return taken;
  }

  /**
   * Makes buffers reusable once the submit that last used them is on the queue. Work whose sizes keep
   * changing (tiles of a large image) would otherwise leave a free buffer of every size class behind:
   * past the cap a released buffer is destroyed instead, so GPU memory stays bounded by the live set.
   */
  recycle(buffers: GPUBuffer[]): void {
    const cap = Math.max(this.minPooledCap, 2 * this.highWater);
    for (const buffer of buffers) {
      if (this.stats.pooledBytes + buffer.size > cap) {
        buffer.destroy();
        continue;
      }
      let list = this.free.get(buffer.size);
      if (!list) this.free.set(buffer.size, (list = []));
      list.push(buffer);
      this.stats.pooledBytes += buffer.size;
    }
  }

  /** Destroys pooled (free) buffers, e.g. after a large run, returning memory to the driver. */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) buffer.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }
}
