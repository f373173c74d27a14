/**
 * Per-kernel profile of one Gatys loss + gradient (the objective L-BFGS calls each iteration):
 * every launch is submitted as its own compute pass with begin/end timestamps, and the pass times
 * are summed by kernel name and variant. One pass per launch adds submit overhead and removes
 * overlap between launches, so the total is above `npm run bench`'s; the split is what matters.
 *
 *   npx tsx bench/profile-gatys.ts [sizes...]       (default 64 128)
 */
import { scope } from '../src/gpu/scope.ts';
import { initRuntime, type KernelLaunch, type Runtime } from '../src/gpu/runtime.ts';
import type { PassTimer } from '../src/gpu/recorder.ts';
import { hostImage, randomVgg } from './nets.ts';

/** Records every pass's begin/end timestamps (the harness's timer only sums them). */
class PerPassTimer implements PassTimer {
  readonly querySet: GPUQuerySet;
  private used = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 4096,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity });
  }

  nextPair(): [number, number] | null {
    if (this.used + 2 > this.capacity) throw new Error('profile: more than 2048 passes; raise the capacity');
    const pair: [number, number] = [this.used, this.used + 1];
    this.used += 2;
    return pair;
  }

  /** Milliseconds of each pass since the last call, in submission order. */
  async collect(): Promise<number[]> {
    const used = this.used;
    this.used = 0;
    if (used === 0) return [];
    const resolve = this.device.createBuffer({ size: used * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: used * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, used, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, used * 8);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    resolve.destroy();
    staging.destroy();
    const ms: number[] = [];
    for (let i = 0; i < used; i += 2) ms.push(Number(stamps[i + 1]! - stamps[i]!) / 1e6);
    return ms;
  }
}

interface Row {
  kernel: string;
  calls: number;
  ms: number;
}

async function profile(rt: Runtime, size: number, repeats: number): Promise<{ rows: Row[]; total: number; wallMs: number }> {
  const { GatysLoss } = await import('../src/nets/gatys.ts');
  const vgg = await randomVgg(rt);
  const loss = await GatysLoss.create(vgg, hostImage(size, 1), [hostImage(size, 2)]);
  const image = rt.upload(hostImage(size, 3).data, [1, size, size, 3]);
  const iterate = () => scope(() => void loss.objective(image));
  iterate(); // compiles the pipelines
  await rt.sync();

  // Wall time of the normal batched submission, for comparison with the sum of the timed passes.
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) iterate();
  await rt.sync();
  const wallMs = (performance.now() - t0) / repeats;

  const labels: string[] = [];
  const launch = rt.launch.bind(rt);
  rt.launch = (l: KernelLaunch) => {
    const before = rt.recorder.counters.dispatches;
    launch(l);
    if (rt.recorder.counters.dispatches === before) return; // an empty grid records nothing
    labels.push(`${l.name}${l.variant ? ` [${l.variant}]` : ''} ${l.workgroups.join('x')}`);
    void rt.recorder.flush(); // one batch, so one timed pass, per launch
  };
  const timer = new PerPassTimer(rt.device);
  rt.recorder.timer = timer;
  const byKernel = new Map<string, Row>();
  let total = 0;
  for (let r = 0; r < repeats; r++) {
    labels.length = 0;
    iterate();
    await rt.sync();
    const ms = await timer.collect();
    if (ms.length !== labels.length) throw new Error(`profile: ${ms.length} passes for ${labels.length} launches`);
    labels.forEach((kernel, i) => {
      const row = byKernel.get(kernel) ?? { kernel, calls: 0, ms: 0 };
      row.calls += 1 / repeats;
      row.ms += ms[i]! / repeats;
      total += ms[i]! / repeats;
      byKernel.set(kernel, row);
    });
  }
  rt.recorder.timer = null;
  rt.launch = launch;
  loss.dispose();
  vgg.dispose();
  image.dispose();
  return { rows: [...byKernel.values()].sort((a, b) => b.ms - a.ms), total, wallMs };
}

const sizes = process.argv.slice(2).map(Number);
const rt = await initRuntime();
if (!rt.context.features.has('timestamp-query')) throw new Error('profile: the adapter has no timestamp-query');
for (const size of sizes.length ? sizes : [64, 128]) {
  const { rows, total, wallMs } = await profile(rt, size, 2);
  process.stdout.write(`\nGatys loss + gradient, ${size} px: ${total.toFixed(1)} ms GPU in ${rows.reduce((s, r) => s + r.calls, 0)} launches (one pass each); batched as usual: ${wallMs.toFixed(1)} ms wall\n`);
  process.stdout.write(`${'ms'.padStart(9)} ${'%'.padStart(5)} ${'calls'.padStart(5)}  kernel [variant] workgroups\n`);
  for (const r of rows.slice(0, Number(process.env.PROFILE_TOP ?? 25))) {
    process.stdout.write(`${r.ms.toFixed(1).padStart(9)} ${((100 * r.ms) / total).toFixed(1).padStart(5)} ${String(r.calls).padStart(5)}  ${r.kernel}\n`);
  }
}
rt.destroy?.();
