/**
 * What the training commands print: a progress bar on a terminal (plain lines every 10 s otherwise),
 * validation results, Ctrl-C handling, and the closing summary. One place, so that `train transformer`
 * and `train adain` read alike.
 */
import type { IterationReport, TrainResult } from '../nets/train/loop.ts';
import type { TrainingRunHooks } from '../nets/train/node/run-files.ts';
import { createProgressBar, isInteractive, type ProgressBar } from './progress.ts';

/** A loss for a progress line: four significant digits, exponent form for the very large and small. */
export function formatLoss(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-2) ? v.toExponential(2) : v.toPrecision(4);
}

interface RunLength {
  iterations: number;
  startIteration: number;
}

export class TrainingProgress {
  private bar: ProgressBar | null = null;
  private total = 0;
  private val: number | undefined;
  private lastLine = 0;
  private readonly interactive = isInteractive();

  /**
   * @param label the progress bar's first word
   * @param artefact what a new best validation writes ("model", "decoder")
   * @param patience validations without improvement before early stopping (for the message)
   */
  constructor(
    private readonly label: string,
    private readonly artefact: string,
    private readonly patience: number,
  ) {}

  /** Prints a line on stderr (below the bar, which redraws itself). */
  readonly say = (line: string): void => {
    process.stderr.write(`${this.bar ? '\n' : ''}${line}\n`);
  };

  /** The run's hooks; `describe` turns its start report into the opening line. */
  hooks<Start extends RunLength>(describe: (info: Start) => string): TrainingRunHooks<Start> {
    return {
      log: this.say,
      onUnreadable: (path, reason) => this.say(`skipping unreadable image (reported once): ${reason.startsWith(path) ? reason : `${path}: ${reason}`}`),
      onStart: (info) => {
        this.total = info.iterations;
        this.say(describe(info));
        if (this.interactive && info.startIteration < info.iterations) {
          this.bar = createProgressBar(`${this.label} |{bar}| {value}/{total} | loss {loss} ({terms}) | val {val} | {ips} img/s | ETA {eta_formatted}`);
          this.bar.start(info.iterations, info.startIteration, { loss: '-', terms: '', val: '-', ips: '-' });
        }
      },
      onIteration: (r) => {
        if (this.bar) this.bar.update(r.iteration, this.payload(r));
        else if (r.iteration === this.total || Date.now() - this.lastLine > 10_000) {
          this.lastLine = Date.now();
          const p = this.payload(r);
          this.say(`iteration ${r.iteration}/${r.iterations}: loss ${p.loss} (${p.terms}), ${p.ips} img/s`);
        }
      },
      onValidation: (v) => {
        this.val = v.loss;
        if (this.bar && !v.improved) return;
        const detail = v.improved
          ? `(best so far: ${this.artefact} written)`
          : `(best ${formatLoss(v.best?.loss)} at ${v.best?.iteration}; ${v.sinceImprovement}/${this.patience} without improvement)`;
        this.say(`validation at iteration ${v.iteration}: ${formatLoss(v.loss)} ${detail}`);
      },
    };
  }

  /** Removes the bar (call before printing the summary, and in `finally`). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }

  private payload(r: IterationReport) {
    return {
      loss: formatLoss(r.total),
      terms: Object.entries(r.terms)
        .map(([k, v]) => `${k} ${formatLoss(v)}`)
        .join(', '),
      val: formatLoss(this.val),
      ips: r.imagesPerSecond.toFixed(2),
    };
  }
}

/**
 * Ctrl-C once: the run finishes its iteration, writes a checkpoint and the best weights, and stops.
 * Twice: quit at once. `dispose` removes the handler.
 */
export function stopOnCtrlC(say: (line: string) => void, artefact: string): { interrupted: () => boolean; dispose: () => void } {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say(`stopping after this iteration (a checkpoint and the best ${artefact} are written); press Ctrl-C again to quit at once`);
  };
  process.on('SIGINT', onSigint);
  return { interrupted: () => interrupted, dispose: () => void process.off('SIGINT', onSigint) };
}

export interface TrainingSummary {
  result: TrainResult & { output: string; checkpoint: string; lossCurve: string | null; unreadable: ReadonlyMap<string, string> };
  artefact: string;
  patience: number;
  /** How to use the written file, e.g. `npx pastiche stylize PHOTO ...`. */
  useCommand: string;
  /** How to continue from the checkpoint. */
  resumeCommand: string;
}

/** The lines printed when a run ends: why it stopped, which weights were kept, and where the files are. */
export function trainingSummary(s: TrainingSummary): string {
  const r = s.result;
  const lines = [
    r.stopReason === 'early-stop'
      ? `stopped early at iteration ${r.iteration}: validation loss did not improve for ${s.patience} validations`
      : r.stopReason === 'interrupted'
        ? `interrupted after iteration ${r.iteration}`
        : `finished ${r.iteration} iterations`,
    r.best ? `best validation loss ${formatLoss(r.best.loss)} at iteration ${r.best.iteration}: those weights are the ${s.artefact}` : `no validation ran: the ${s.artefact} holds the final weights`,
    `${`${s.artefact}:`.padEnd(11)} ${r.output}  (${s.useCommand})`,
    ...(r.lossCurve ? [`loss curve: ${r.lossCurve}`] : []),
    `checkpoint: ${r.checkpoint}  (continue: ${s.resumeCommand})`,
    ...(r.unreadable.size ? [`skipped ${r.unreadable.size} unreadable image(s)`] : []),
    `time: ${r.seconds < 120 ? `${r.seconds.toFixed(1)} s` : `${(r.seconds / 60).toFixed(1)} min`}`,
  ];
  return `${lines.join('\n')}\n`;
}
