/** `pastiche info`: the WebGPU adapter, its features and limits, and which models are installed. */
import type { Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { listInstalledModels, type InstalledModel } from '../../nets/weights/node/store.ts';

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
    .description('show the WebGPU adapter, its features and limits, and the installed models')
    .action(async () => {
      const runtime = await initRuntime();
      const { adapterInfo, features, limits, platform, selection } = runtime.context;
      const lines = [
        `adapter:   ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device, adapterInfo.description].filter(Boolean).join(' / ') || '(no description)'}`,
        `chosen by: ${selection}; choose with --adapter high-performance|low-power|NAME or PASTICHE_ADAPTER`,
        `platform:  ${platform}`,
        `features:  ${[...features].sort().join(', ')}`,
        'limits:',
        ...SHOWN_LIMITS.map((name) => `  ${name.padEnd(36)} ${limits[name]}`),
        'models:',
      ];
      const installed = await listInstalledModels();
      for (const m of installed) {
        lines.push(`  ${m.name.padEnd(16)} ${m.kind.padEnd(16)} ${installedState(m)}`);
      }
      if (installed.every((m) => !m.filesComplete)) lines.push('  (none: run `npx pastiche weights`)');
      process.stdout.write(`${lines.join('\n')}\n`);
      runtime.destroy();
    });
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
