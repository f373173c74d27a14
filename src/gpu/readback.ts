/**
 * Staging buffers for reading results back, reused by size. Mapping is the only place pastiche
 * waits for the GPU, so everything else stays asynchronous and batched.
 */
export class StagingPool {
  private readonly free = new Map<number, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const buffer = this.free.get(size)?.pop();
    return buffer ?? this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  }

  release(buffer: GPUBuffer): void {
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}

/**
 * Maps a staging buffer and copies `bytes` out. In Node a pending mapAsync alone does not keep the
 * event loop alive, so a timer holds it open until the map settles.
 */
export async function mapAndCopy(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await buffer.mapAsync(GPUMapMode.READ, 0, buffer.size);
    const copy = buffer.getMappedRange(0, buffer.size).slice(0, bytes);
    buffer.unmap();
    return copy;
  } finally {
    clearInterval(keepAlive);
  }
}
