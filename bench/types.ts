import type { Runtime } from '../src/gpu/runtime.ts';
import type { OnnxRuntime } from './peers/onnx-runtime.ts';

/** TensorFlow.js core, as the peer workloads see it. */
export type Tfjs = typeof import('@tensorflow/tfjs-core');

/**
 * Size tiers. `quick`: smallest sizes, few repetitions (about a minute on a CPU-only machine).
 * `default`: sizes that finish in 5–10 minutes on lavapipe. `full`: real-GPU sizes.
 */
export type Tier = 'quick' | 'default' | 'full';

export const TIERS: readonly Tier[] = ['quick', 'default', 'full'];

/**
 * One iteration of work, already set up. `run` records the work (it must not wait for the GPU);
 * the harness times N runs followed by one full sync. For pastiche, `run` is called inside
 * `scope()`, so every tensor it creates is freed afterwards; for tfjs it is called inside
 * `tf.tidy()`.
 */
export interface Workload {
  run(): void;
  /** Frees what setup created. */
  dispose(): void;
  /** One iteration's result read back, NHWC (for a peer's self-check before timing; never timed). */
  output?(): Promise<Float32Array>;
}

/**
 * One iteration on a CPU peer (onnxruntime-node): `run` resolves when the work is done; the harness
 * runs iterations one after another and times them by wall clock.
 */
export interface CpuWorkload {
  run(): Promise<unknown>;
  /** One iteration's result, NHWC like pastiche's, compared with `Workload.output` before timing. */
  output?(): Promise<Float32Array>;
  dispose(): void;
}

/** A benchmark line. Keep the definition small: the harness does warm-up, timing and reporting. */
export interface BenchDef {
  /** Unique, stable across runs (`--compare` matches lines by name). */
  name: string;
  group: string;
  /** Tiers that include this line. */
  tiers: readonly Tier[];
  /** Floating-point operations per iteration (multiply-add = 2), for GFLOP/s. */
  flops?: number;
  /** Minimum bytes an iteration must move (inputs read once, outputs written once), for GB/s. */
  bytes?: number;
  setup(runtime: Runtime): Workload | Promise<Workload>;
  /**
   * The same computation in TensorFlow.js (webgpu backend, same adapter). May be async, e.g. to
   * read back constants its setup computes (tf's webgpu backend has no synchronous readback).
   */
  peer?: (tf: Tfjs) => Workload | Promise<Workload>;
  /**
   * How the peer's work differs from pastiche's when the two compute the same result differently
   * (a fused kernel against separate ones, a half product against a full one). Reported with the
   * line, so a ratio is read as "same result", not "same kernels". Absent: the same operations.
   */
  peerWork?: string;
  /**
   * The same computation on onnxruntime-node's CPU provider, when that optional package is
   * installed (the peer kind 'onnxruntime-cpu'; its numbers go in the result's cpuPeer* fields).
   */
  onnx?: (ort: OnnxRuntime) => Promise<CpuWorkload>;
}

/** An end-to-end line (bench/e2e.ts): always reports peak GPU memory. */
export interface E2EDef extends Omit<BenchDef, 'group'> {
  /** When the modules it needs are not there yet: why it is skipped. */
  pending?: string;
}
