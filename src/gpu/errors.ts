/** Errors the GPU layer throws. Each says what went wrong and what the user can do about it. */

const VULKAN_HELP = [
  'Fix:',
  '  Linux: install a Vulkan driver: your GPU vendor\'s, or without a GPU the software one (lavapipe, Mesa 25 from',
  '         bookworm-backports on Debian 12): `sudo bash scripts/install-system-deps.sh`, or',
  '         `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`',
  '  macOS: WebGPU uses Metal, built into macOS 11 and later: update macOS.',
  '  Windows: WebGPU uses Direct3D 12: install or update the GPU driver (Windows 10 or later).',
  '  Browser: use a WebGPU-enabled browser (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).',
].join('\n');

export class GpuUnavailableError extends Error {
  constructor(reason: string) {
    super(`No WebGPU adapter: ${reason}\n${VULKAN_HELP}`);
    this.name = 'GpuUnavailableError';
  }
}

export class DeviceLostError extends Error {
  constructor(reason: string, message: string) {
    super(`The GPU device was lost (${reason}): ${message}. Create a new runtime to continue.`);
    this.name = 'DeviceLostError';
  }
}

/** A validation, out-of-memory or internal error the device reported while running kernels. */
export class GpuKernelError extends Error {
  constructor(kind: string, message: string) {
    super(`GPU ${kind} error: ${message}`);
    this.name = 'GpuKernelError';
  }
}

export class ShaderCompileError extends Error {
  constructor(kernel: string, details: string) {
    super(`WGSL for kernel '${kernel}' failed to compile:\n${details}`);
    this.name = 'ShaderCompileError';
  }
}

export class GpuOutOfMemoryError extends Error {
  constructor(what: string, bytes: number, limit: number) {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    super(
      `${what} needs a ${mib(bytes)} buffer but this adapter allows at most ${mib(limit)}. ` +
        'Use a smaller image size (or tiled inference), or a GPU with larger buffer limits.',
    );
    this.name = 'GpuOutOfMemoryError';
  }
}
