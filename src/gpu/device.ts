import { adaptersListedByDawn, describeAdapterChoice, matchAdapterName, noAdapterNamedError, parseAdapterChoice, type AdapterChoice } from './adapter-choice.ts';
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
  /** How the adapter was chosen, e.g. "power preference high-performance (default)". */
  selection: string;
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * `high-performance`, `low-power` or a part of an adapter's name (any case). Default: in Node the
   * PASTICHE_ADAPTER environment variable, else `powerPreference`, else high-performance.
   */
  adapter?: string;
  /** Ask for these features only (default: every optional feature the adapter has). */
  features?: GPUFeatureName[];
}

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined && typeof window === 'undefined';

async function nodeGpu(flags: string[] = []): Promise<GPU> {
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
  return dawn.create(flags);
}

/** Gets an adapter and device in Node (dawn.node) or the browser (navigator.gpu). */
export async function createGpuContext(options: DeviceOptions = {}): Promise<GpuContext> {
  const choice = adapterChoiceFor(options);
  const { gpu, adapter } = await requestChosenAdapter(choice);
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
    selection: describeAdapterChoice(choice),
  };
}

function adapterChoiceFor(options: DeviceOptions): AdapterChoice {
  if (options.adapter !== undefined) return parseAdapterChoice(options.adapter, 'adapter option');
  const fromEnv = isNode ? process.env.PASTICHE_ADAPTER : undefined;
  // The CLI's --adapter travels as PASTICHE_ADAPTER, with its own name as the source.
  if (fromEnv) return parseAdapterChoice(fromEnv, process.env.PASTICHE_ADAPTER_SOURCE || 'PASTICHE_ADAPTER');
  if (options.powerPreference) return { kind: 'power', powerPreference: options.powerPreference, source: 'powerPreference option' };
  return parseAdapterChoice(undefined, 'default');
}

async function requestChosenAdapter(choice: AdapterChoice): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  const browserGpu = typeof navigator !== 'undefined' ? (navigator as Navigator).gpu : undefined;
  if (!browserGpu && !isNode) throw new GpuUnavailableError('this browser does not expose navigator.gpu');
  if (choice.kind === 'name') return browserGpu ? browserAdapterNamed(browserGpu, choice) : nodeAdapterNamed(choice);
  const gpu = browserGpu ?? (await nodeGpu());
  return { gpu, adapter: await requestAdapter(gpu, { powerPreference: choice.powerPreference }) };
}

async function requestAdapter(gpu: GPU, request: GPURequestAdapterOptions): Promise<GPUAdapter> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(request);
  } catch (err) {
    throw new GpuUnavailableError(`requestAdapter() failed (${(err as Error).message})`);
  }
  if (!adapter) throw new GpuUnavailableError('no usable Vulkan, Metal or D3D12 driver was found');
  return adapter;
}

/** Dawn picks by name itself (flag `adapter=`), case-sensitively; its refusal lists the names, which give a case-blind retry. */
async function nodeAdapterNamed(choice: Extract<AdapterChoice, { kind: 'name' }>): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  let available: string[] = [];
  for (const name of [choice.name, undefined]) {
    const exact = name ?? matchAdapterName(available, choice.name);
    if (exact === undefined) break;
    const gpu = await nodeGpu([`adapter=${exact}`]);
    try {
      const adapter = await gpu.requestAdapter();
      if (adapter) return { gpu, adapter };
    } catch (err) {
      available = adaptersListedByDawn((err as Error).message).map((a) => a.name);
      if (available.length === 0 && name !== undefined) throw new GpuUnavailableError(`requestAdapter() failed (${(err as Error).message})`);
    }
  }
  throw noAdapterNamedError(choice, available);
}

/** Browsers offer one adapter per power preference: the name is matched against those. */
async function browserAdapterNamed(gpu: GPU, choice: Extract<AdapterChoice, { kind: 'name' }>): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  const found: GPUAdapter[] = [];
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (adapter) found.push(adapter);
  }
  const names = found.map((a) => adapterName(a.info));
  const match = matchAdapterName(names, choice.name);
  if (match === undefined) throw noAdapterNamedError(choice, names);
  return { gpu, adapter: found[names.indexOf(match)]! };
}

function adapterName(info: GPUAdapterInfo | undefined): string {
  return [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' / ');
}

/** Whether an adapter is a CPU implementation of the GPU (by the names drivers give themselves). */
export function isSoftwareAdapter(info: GpuContext['adapterInfo']): boolean {
  return /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}
