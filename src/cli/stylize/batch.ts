/**
 * One stylize run over its content images: a failure on one image is recorded and the batch goes on,
 * Ctrl-C stops it after the current image, and the outcome decides the summary and the exit code.
 */
import type { PlannedOutput } from './output-plan.ts';

export interface BatchFailure {
  content: string;
  reason: string;
}

export interface BatchOutcome {
  total: number;
  written: number;
  failed: BatchFailure[];
  interrupted: boolean;
}

/** The exit code shells expect: 130 after Ctrl-C (128 + SIGINT), 1 if any image failed, else 0. */
export function stylizeExitCode(outcome: BatchOutcome): number {
  if (outcome.interrupted) return 130;
  return outcome.failed.length > 0 ? 1 : 0;
}

/** "2 of 3 written; failed: x.png: <reason>", or null when every image was written. */
export function batchSummary(outcome: BatchOutcome): string | null {
  const parts: string[] = [];
  if (outcome.interrupted) parts.push(`interrupted: ${outcome.written} of ${outcome.total} written`);
  else if (outcome.failed.length > 0) parts.push(`${outcome.written} of ${outcome.total} written`);
  if (outcome.failed.length > 0) parts.push(`failed: ${outcome.failed.map((f) => `${f.content}: ${withoutPath(f.reason, f.content)}`).join('; ')}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

/** Reasons from the image readers start with the path; the summary names it once. */
function withoutPath(reason: string, path: string): string {
  return reason.startsWith(`${path}: `) ? reason.slice(path.length + 2) : reason;
}

export class StylizeBatch {
  private stop = false;
  private written = 0;
  private readonly failed: BatchFailure[];
  private readonly total: number;

  /** `failedUpfront`: inputs already rejected by the checks before the run; they count in the total. */
  constructor(
    readonly items: readonly PlannedOutput[],
    failedUpfront: readonly BatchFailure[] = [],
  ) {
    this.failed = [...failedUpfront];
    this.total = items.length + failedUpfront.length;
  }

  /** Set by Ctrl-C: the current image is finished (gatys: stopped early, best image so far) and written, then the batch ends. */
  get stopRequested(): boolean {
    return this.stop;
  }

  requestStop(): void {
    this.stop = true;
  }

  /** Runs `work` for each image in turn; an error fails that image only. */
  async forEach(work: (content: string, output: string) => Promise<void>): Promise<void> {
    for (const { content, output } of this.items) {
      if (this.stop) break;
      try {
        await work(content, output);
        this.written++;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.failed.push({ content, reason });
        process.stderr.write(`${content}: failed: ${reason}\n`);
      }
    }
  }

  outcome(): BatchOutcome {
    return { total: this.total, written: this.written, failed: [...this.failed], interrupted: this.stop };
  }
}
