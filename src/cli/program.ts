/** The `pastiche` command tree: one file per subcommand under src/cli/commands, registered here. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerFeaturesCommand } from './commands/features.ts';
import { registerInfoCommand } from './commands/info.ts';
import { registerStylizeCommand } from './commands/stylize.ts';
import { registerTrainCommand } from './commands/train.ts';
import { registerTuneCommand } from './commands/tune.ts';
import { registerWeightsCommand } from './commands/weights.ts';

/** The version in package.json (src/cli and dist/cli both sit two folders below it). */
export function packageVersion(): string {
  const json = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof json.version === 'string' ? json.version : 'unknown';
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pastiche')
    .description('Neural style transfer on a WebGPU compute engine written from scratch')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(add --help to see the options)')
    .option('--adapter <which>', 'WebGPU adapter: high-performance | low-power | a part of its name (default $PASTICHE_ADAPTER, else high-performance)')
    .hook('preAction', (command) => {
      // The runtime reads the choice where every command creates it; the option only sets it.
      const adapter = command.opts<{ adapter?: string }>().adapter;
      if (adapter !== undefined) {
        process.env.PASTICHE_ADAPTER = adapter;
        process.env.PASTICHE_ADAPTER_SOURCE = '--adapter';
      }
    });
  registerFeaturesCommand(program);
  registerInfoCommand(program);
  registerStylizeCommand(program);
  registerTrainCommand(program);
  registerTuneCommand(program);
  registerWeightsCommand(program);
  return program;
}
