/**
 * onnxruntime-node on its CPU execution provider as a second peer for the feed-forward lines: the
 * reference a CPU user would otherwise pick. The package is optional (about 290 MB, so it is not in
 * package.json): it is imported dynamically when installed, and the bench says once how to get it.
 *
 * How it is timed (bench/harness.ts `cpuPeerTarget`): `session.run` is synchronous CPU work (the
 * binding runs it on the JS thread, after one setImmediate), so an iteration is one awaited run,
 * iterations run back to back, and a sample is their wall clock — no GPU involved. Its ratio is
 * taken against pastiche's wall-clock median of the same line. ORT uses its default intra-op thread
 * pool (one thread per physical core: all cores), graph optimizations 'all'.
 */

/** The command that installs the peer (npm 11 skips install scripts anyway; ORT's only fetches GPU bits). */
export const ONNX_INSTALL_COMMAND = 'npm install --no-save --ignore-scripts onnxruntime-node@1.30.0';

/** The part of onnxruntime-node's API the bench uses (declared here: the package is not a dependency). */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Unset or 0: ORT's default, one thread per physical core. */
  intraOpNumThreads?: number;
  /** Session configuration entries, nested by their dotted names. */
  extra?: Record<string, unknown>;
}

export interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: { node?: string; common?: string } };
}

export interface OnnxPeer {
  /** The peer kind, as the JSON's `cpuPeer` names it. */
  readonly name: 'onnxruntime-cpu';
  readonly version: string;
  /** How ORT was told to thread its work, for the report. */
  readonly threads: string;
  readonly ort: OnnxRuntime;
}

/** Loads onnxruntime-node; throws (with the install command) when it is not installed. */
export async function loadOnnxPeer(): Promise<OnnxPeer> {
  // A variable specifier: TypeScript must not try to resolve a package that may be absent.
  const specifier = 'onnxruntime-node';
  let ort: OnnxRuntime;
  try {
    ort = (await import(specifier)) as OnnxRuntime;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(`onnxruntime-node is not installed (optional, ~290 MB): ${ONNX_INSTALL_COMMAND}`);
    throw err;
  }
  const version = ort.env.versions?.node ?? 'unknown';
  return { name: 'onnxruntime-cpu', version, threads: 'intra-op default (one per physical core)', ort };
}

/** A CPU-provider session with the options every bench session shares. */
export function createCpuSession(ort: OnnxRuntime, model: Uint8Array): Promise<OrtSession> {
  // intraOpNumThreads left unset: ORT's default pool, one thread per physical core. Spinning off: its
  // idle threads would otherwise keep busy-waiting on the cores the software GPU needs for the next
  // sample (measured: pastiche's Gatys 256 px samples 3990 ms beside spinning ORT, 3158 ms without, 2529 ms alone).
  // ORT's own times did not change (717 vs 696 ms).
  return ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
}

/** A float32 output of a run, checked. */
export function floatOutput(outputs: Record<string, OrtTensor>, name: string): Float32Array {
  const t = outputs[name];
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`onnxruntime: no float32 output '${name}'`);
  return t.data;
}
