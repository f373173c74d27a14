/** Errors the GPU layer throws. Each says what went wrong and what the user can do about it. */

const VULKAN_HELP = [
  'WebGPU needs a Vulkan driver. On a machine without a GPU, install a software one:',
  '  Debian 12: add the bookworm-backports suite, then `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`',
  '             and run with VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json (lavapipe);',
  '  or `apt-get install chromium libvulkan1` and VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader, ~10x slower).',
  'In a browser: use a WebGPU-enabled browser (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).',
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
