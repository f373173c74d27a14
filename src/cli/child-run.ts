/**
 * Commands that open the GPU run in a child process whose stderr passes through NativeNoiseFilter, so
 * Dawn's native start-up warnings never reach users. The parent only relays: stdin and stdout are
 * shared, signals are passed on, and the child's exit code (or signal) becomes the parent's.
 */
import { spawn } from 'node:child_process';
import { NativeNoiseFilter } from './native-noise-filter.ts';

/** Subcommands that create a WebGPU adapter. */
const GPU_COMMANDS = new Set(['stylize', 'info', 'train', 'tune', 'features']);
const CHILD_MARK = 'PASTICHE_CLI_CHILD';
/** Set for the child when the user's stderr is a terminal: progress bars still redraw in place. */
const TTY_COLUMNS = 'PASTICHE_STDERR_COLUMNS';

/** Whether `argv` (process.argv) names a GPU command and this is not already the child. */
export function runsInChild(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[CHILD_MARK] || env.PASTICHE_NATIVE_STDERR) return false;
  const args = argv.slice(2);
  return args.some((arg) => GPU_COMMANDS.has(arg)) && !args.includes('--help') && !args.includes('-h');
}

/** In the child: look like a terminal on stderr when the parent's stderr is one. */
export function adoptParentTerminal(env: NodeJS.ProcessEnv = process.env): void {
  const columns = Number(env[TTY_COLUMNS]);
  if (!env[CHILD_MARK] || !(columns > 0)) return;
  Object.assign(process.stderr, { isTTY: true, columns });
}

/** Runs this same command line in a child process and resolves with the exit code to use. */
export function runInChild(argv: readonly string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_MARK]: '1' };
  if (process.stderr.isTTY) env[TTY_COLUMNS] = String(process.stderr.columns || 80);
  const child = spawn(process.execPath, [...process.execArgv, ...argv.slice(1)], { stdio: ['inherit', 'inherit', 'pipe'], env });
  const filter = new NativeNoiseFilter((text) => process.stderr.write(text));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => filter.push(chunk));
  // A terminal's Ctrl-C reaches the whole process group, the child included; passing it on would
  // count twice (the second Ctrl-C quits at once). A signal sent to this process alone is relayed.
  const relay = (signal: NodeJS.Signals) => () => {
    if (signal !== 'SIGINT' || !process.stdin.isTTY) child.kill(signal);
  };
  const relays = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => [signal, relay(signal)] as const);
  for (const [signal, handler] of relays) process.on(signal, handler);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      filter.end();
      for (const [name, handler] of relays) process.off(name, handler);
      if (signal) {
        // Die the same way, so shells see the same status.
        process.kill(process.pid, signal);
        return;
      }
      resolve(code ?? 1);
    });
  });
}
