/** Progress bars for long commands, drawn on stderr (cli-progress). */
import { createRequire } from 'node:module';

// cli-progress ships no type declarations; this is the slice of its API pastiche uses.
export interface ProgressBar {
  start(total: number, startValue: number, payload?: Record<string, string>): void;
  update(value: number, payload?: Record<string, string>): void;
  stop(): void;
}
interface CliProgressModule {
  SingleBar: new (options: Record<string, unknown>, preset?: unknown) => ProgressBar;
  Presets: { shades_classic: unknown };
}
const cliProgress = createRequire(import.meta.url)('cli-progress') as CliProgressModule;

/** A bar on stderr; `format` uses cli-progress tokens ({bar}, {percentage}, {value}, {total}, {eta_formatted}, payload keys). */
export function createProgressBar(format: string): ProgressBar {
  return new cliProgress.SingleBar({ stream: process.stderr, format, hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
}

/** Whether stderr is a terminal (bars redraw in place); otherwise commands print plain lines. */
export const isInteractive = (): boolean => process.stderr.isTTY === true;
