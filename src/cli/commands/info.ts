/** `pastiche info`: the WebGPU adapter, its features and limits, and which models are bundled and cached. */
import type { Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { loadWeightsManifest } from '../../nets/weights/manifest.ts';
import { defaultBundledDir, listBundledModels, type BundledModel } from '../../nets/weights/node/bundled.ts';
import { defaultCacheDir, listInstalledModels, type InstalledModel } from '../../nets/weights/node/store.ts';

const SHOWN_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show the WebGPU adapter, its features and limits, and the bundled and cached models')
    .action(async () => {
      const lines: string[] = [];
      try {
        const runtime = await initRuntime();
        const { adapterInfo, features, limits, platform, selection } = runtime.context;
        lines.push(
          `adapter:   ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device, adapterInfo.description].filter(Boolean).join(' / ') || '(no description)'}`,
          `chosen by: ${selection}; choose with --adapter high-performance|low-power|NAME or PASTICHE_ADAPTER`,
          `platform:  ${platform}`,
          `features:  ${[...features].sort().join(', ')}`,
          'limits:',
          ...SHOWN_LIMITS.map((name) => `  ${name.padEnd(36)} ${limits[name]}`),
        );
        runtime.destroy();
      } catch (err) {
        // The models are still worth listing on a machine without WebGPU.
        lines.push(`adapter:   none (${err instanceof Error ? err.message : String(err)})`);
        process.exitCode = 1;
      }
      const manifest = await loadWeightsManifest();
      const cacheDir = defaultCacheDir();
      lines.push(...modelLines(await listBundledModels(manifest), await listInstalledModels({ manifest, cacheDir }), defaultBundledDir(), cacheDir));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/** The models part of `pastiche info`: what ships with pastiche (works offline), then what is in the cache. */
export function modelLines(bundled: BundledModel[], installed: InstalledModel[], bundledDir: string | null, cacheDir: string): string[] {
  const lines = [`bundled models (offline): ${bundledDir ?? 'off (PASTICHE_BUNDLED_DIR is empty)'}`];
  for (const m of bundled) {
    const state = m.state === 'ok' ? 'ready' : m.state === 'missing' ? 'missing: reinstall pastiche' : 'damaged (sha256 mismatch): reinstall pastiche';
    lines.push(`  ${m.name.padEnd(16)} ${m.kind.padEnd(16)} ${`${(m.bytes / 1e6).toFixed(1)} MB`.padStart(8)}  ${state}`);
  }
  if (bundled.length === 0) lines.push('  (none)');
  lines.push(`cached models: ${cacheDir}`);
  for (const m of installed) lines.push(`  ${m.name.padEnd(16)} ${m.kind.padEnd(16)} ${installedState(m)}`);
  if (installed.length === 0) lines.push('  (none: other models download on first use, or all at once with `npx pastiche weights`)');
  return lines;
}

/** A model's line in the list; converted files are checked against their sha256 records. */
export function installedState(m: InstalledModel): string {
  switch (m.converted) {
    case 'ok':
    case 'unchecked':
      return 'ready';
    case 'damaged':
      return `damaged: run \`npx pastiche weights ${m.name}\` to repair it`;
    case 'stale':
      return `outdated: run \`npx pastiche weights ${m.name}\` to convert it again`;
    case null:
      return m.filesComplete ? 'files only' : 'not installed';
  }
}
