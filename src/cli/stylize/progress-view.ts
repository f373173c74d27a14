/**
 * A method's progress reports on stderr: a live bar for iterative methods on a terminal, otherwise plain
 * lines (the first and last step, and at most one every 10 s); messages as they come. Previews
 * (`--save-every`) are handed to `onPreview`.
 */
import type { Progress } from '../../nets/methods/contract.ts';
import type { RgbImage } from '../../io/image.ts';
import { createProgressBar, isInteractive, type ProgressBar } from '../progress.ts';

export class ProgressView {
  private bar: ProgressBar | null = null;
  private lastLine = 0;

  constructor(
    private readonly label: string,
    private readonly onPreview?: (step: number, image: RgbImage) => void,
  ) {}

  readonly report = (p: Progress): void => {
    if (p.preview && p.step !== undefined) this.onPreview?.(p.step, p.preview);
    if (p.step !== undefined && p.totalSteps !== undefined) {
      this.step(p.step, p.totalSteps, p.message ?? '');
      return;
    }
    // Download progress (a fraction per chunk) would flood a log; the store prints its own notices.
    if (p.message && p.fraction === undefined) process.stderr.write(`${p.message}\n`);
  };

  private step(step: number, total: number, message: string): void {
    if (isInteractive()) {
      if (!this.bar) {
        this.bar = createProgressBar(`${this.label} {bar} {value}/{total} | {message}`);
        this.bar.start(total, 0, { message });
      }
      this.bar.update(step, { message });
      return;
    }
    const now = performance.now();
    if (step === 1 || step === total || now - this.lastLine > 10_000) {
      this.lastLine = now;
      process.stderr.write(`  [${step}/${total}] ${message}\n`);
    }
  }

  /** Ends the bar (call before printing anything else). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
