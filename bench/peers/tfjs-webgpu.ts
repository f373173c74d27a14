/**
 * TensorFlow.js with @tensorflow/tfjs-backend-webgpu as the peer, in this process, on the same
 * adapter: tfjs is handed pastiche's GPU entry object as `navigator.gpu` and requests its own
 * device from it (two devices on one adapter; the work of one never overlaps the other's because
 * the harness syncs each side completely before timing the other).
 *
 * How the comparison is kept fair:
 *  - Both sides are timed the same way: N iterations recorded back to back, then one full sync
 *    (pastiche: flush + queue.onSubmittedWorkDone; tfjs: end the open compute pass, submit the
 *    pending command encoder, then queue.onSubmittedWorkDone). Nothing is read back.
 *  - tfjs batches dispatches itself: it submits every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (15)
 *    dispatches; pastiche submits once per iteration (its recorder puts up to 256 dispatches in a
 *    pass). Each library keeps its own batching: that is part of what is being compared.
 *  - GPU time: with 'timestamp-query', both sides get begin/end timestamps on every compute pass.
 *    Pastiche through its recorder's `timer` hook; tfjs by wrapping its device's
 *    createCommandEncoder so each beginComputePass gets `timestampWrites` (tfjs's own profiling
 *    mode would instead split every dispatch into its own pass and submit, which distorts).
 *    If either side's timestamps are incomplete, the line falls back to wall time on both sides.
 *  - WEBGPU_CPU_FORWARD is turned off so that tfjs never runs a small op on the CPU.
 *  - Backward kernel lines use tfjs's own backward kernels (Conv2DBackpropInput/Filter, MaxPoolGrad)
 *    through tf.engine().runKernel, so both sides time one op's backward alone. tfjs autodiff
 *    (tf.grad, tf.valueAndGrad, tf.train optimizers) is loaded too (tfjs-gradients.ts), for the
 *    end-to-end lines that need a whole gradient (the Gatys iteration).
 *  - Inputs are identical values, uploaded before timing; each iteration's outputs are disposed
 *    (tf.tidy / pastiche scope()).
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { AdapterIdentity } from '../../src/gpu/autotune.ts';
import type { Runtime } from '../../src/gpu/runtime.ts';
import type { PassTimestamps } from '../../src/gpu/pass-timestamps.ts';
import type { Target } from '../harness.ts';
import { timerFor } from '../harness.ts';
import type { Tfjs, Workload } from '../types.ts';
import { loadTfjsGradients } from './tfjs-gradients.ts';

export interface TfjsPeer {
  readonly name: string;
  readonly tf: Tfjs;
  readonly backend: WebGPUBackend;
  readonly version: string;
  /** The adapter tfjs's device came from (it requests its own from the same GPU entry object). */
  readonly adapter: AdapterIdentity;
  /** Builds a peer workload (inside no tidy: its tensors live until `release`). */
  workload(make: (tf: Tfjs) => Workload | Promise<Workload>): Promise<Workload>;
  release(workload: Workload): void;
  target(workload: Workload, useTimestamps: boolean): Target;
  /** Submits everything tfjs has recorded and waits until the GPU has finished it. */
  sync(): Promise<void>;
}

/** Keeps the GPU entry object referenced for the life of the process (see docs on dawn.node). */
const keepAlive: unknown[] = [];

export async function createTfjsPeer(runtime: Runtime): Promise<TfjsPeer> {
  const gpu = runtime.context.gpu;
  keepAlive.push(gpu);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  // Node 20 has no navigator; Node 21+ has one without `gpu`. tfjs-backend-webgpu checks
  // navigator.gpu when its module is first evaluated, so this must come before the import.
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else if (g.navigator.gpu !== gpu) throw new Error('navigator.gpu is already another GPU object');

  const tf = (await import('@tensorflow/tfjs-core')) as Tfjs;
  await import('@tensorflow/tfjs-backend-webgpu');
  await loadTfjsGradients();
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
  await tf.ready();
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const backend = tf.backend() as WebGPUBackend;
  const device = backend.device;

  // Timestamps on tfjs's passes: wrap the encoders its device creates (once).
  let timer: PassTimestamps | null = null;
  const createEncoder = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
    const encoder = createEncoder(descriptor);
    if (!timer) return encoder;
    const beginPass = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (pass?: GPUComputePassDescriptor) => {
      const pair = timer && !pass?.timestampWrites ? timer.nextPair() : null;
      if (!pair || !timer) return beginPass(pass);
      return beginPass({ ...pass, timestampWrites: { querySet: timer.querySet, beginningOfPassWriteIndex: pair[0], endOfPassWriteIndex: pair[1] } });
    };
    return encoder;
  };

  const sync = async () => {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    await device.queue.onSubmittedWorkDone();
  };

  return {
    name: 'tfjs-webgpu',
    tf,
    backend,
    version: tf.version_core,
    adapter: deviceAdapter(device),
    workload: async (make) => make(tf),
    release: (w) => w.dispose(),
    sync,
    target(workload, useTimestamps) {
      return {
        label: 'tfjs-webgpu',
        timer: useTimestamps ? timerFor(device) : null,
        run() {
          tf.tidy(() => {
            workload.run();
          });
        },
        sync,
        setTimer(t) {
          // Start from a fresh encoder so no pass opened before the sample is left untimed.
          backend.ensureCommandEncoderReady();
          backend.endComputePassEncoder();
          backend.submitQueue();
          timer = t;
        },
      };
    },
  };
}

/** The identity of the adapter a device was created from (`GPUDevice.adapterInfo`; empty fields where absent). */
function deviceAdapter(device: GPUDevice): AdapterIdentity {
  const info = (device as Partial<Pick<GPUDevice, 'adapterInfo'>>).adapterInfo;
  return { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', device: info?.device ?? '', description: info?.description ?? '' };
}
