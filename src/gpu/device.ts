import { DeviceLostError, GpuUnavailableError } from './errors.ts';
import { vulkanDriverManifestsExist } from './vulkan-drivers.ts';

/** Optional features pastiche uses when the adapter has them. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups'];

/** Limits raised to the adapter's maximum: big activations need big storage buffers. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /**
   * The adapter runs on the CPU (llvmpipe/lavapipe, SwiftShader, WARP): a few workgroups per core
   * keep it busy, and every extra workgroup and barrier costs, so some kernels split work less.
   */
  software: boolean;
  features: ReadonlySet<string>;
  limits: GPUSupportedLimits;
  /** Where the device came from: 'node' (dawn.node) or 'browser' (navigator.gpu). */
  platform: 'node' | 'browser';
  /** The GPU entry object. In Node it must stay referenced while the device lives (see README). */
  gpu: GPU;
  /** Resolves when the device is lost; the runtime turns this into errors on the next call. */
  lost: Promise<DeviceLostError>;
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for these features only (default: every optional feature the adapter has). */
  features?: GPUFeatureName[];
}

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined && typeof window === 'undefined';

async function nodeGpu(): Promise<GPU> {
  // Kept out of browser bundles: the module name is not a static import.
  const moduleName = 'webgpu';
  let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = (await import(/* @vite-ignore */ moduleName)) as typeof dawn;
  } catch (err) {
    // An optional dependency of pastiche: browser users never need it, so npm may have skipped it.
    const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new GpuUnavailableError(
      missing
        ? "Node needs the 'webgpu' package (Dawn, an optional dependency of pastiche) and it is not installed: run `npm install webgpu`"
        : `the 'webgpu' package (Dawn) could not be loaded (${(err as Error).message}); reinstall it with \`npm install webgpu\` (prebuilt for Linux, macOS and Windows on x64/arm64)`,
    );
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in browsers; dawn.node exports them.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // Without a driver, Dawn's own search only adds native noise before the same answer: no adapter.
  if (process.platform === 'linux' && !(await vulkanDriverManifestsExist())) {
    throw new GpuUnavailableError('no Vulkan driver is installed (no ICD manifest in /usr/share/vulkan/icd.d or where VK_DRIVER_FILES / VK_ICD_FILENAMES point)');
  }
  return dawn.create([]);
}

/** Gets an adapter and device in Node (dawn.node) or the browser (navigator.gpu). */
export async function createGpuContext(options: DeviceOptions = {}): Promise<GpuContext> {
  let gpu: GPU;
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) gpu = (navigator as Navigator).gpu;
  else if (isNode) gpu = await nodeGpu();
  else throw new GpuUnavailableError('this browser does not expose navigator.gpu');

  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (err) {
    throw new GpuUnavailableError(`requestAdapter() failed (${(err as Error).message})`);
  }
  if (!adapter) throw new GpuUnavailableError('no usable Vulkan, Metal or D3D12 driver was found');

  const wanted = options.features ?? OPTIONAL_FEATURES;
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];

  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const lost = device.lost.then((info) => new DeviceLostError(info.reason, info.message));
  const info = adapter.info;
  const adapterInfo = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
  return {
    device,
    adapterInfo,
    software: isSoftwareAdapter(adapterInfo),
    features: new Set([...device.features]),
    limits: device.limits,
    platform: isNode ? 'node' : 'browser',
    gpu,
    lost,
  };
}

/** Whether an adapter is a CPU implementation of the GPU (by the names drivers give themselves). */
export function isSoftwareAdapter(info: GpuContext['adapterInfo']): boolean {
  return /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}
