/**
 * What a command shows while the weight store downloads a model on first use: a bar with the size on
 * a terminal, else one line per file. Files read from the cache or a mirror pass silently.
 */
import type { FileProgress } from '../nets/weights/node/store.ts';
import { createProgressBar, isInteractive, type ProgressBar } from './progress.ts';

const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(1);

export function downloadProgress(
  interactive = isInteractive(),
  write: (line: string) => void = (line) => process.stderr.write(line),
): (progress: FileProgress) => void {
  let current = '';
  let bar: ProgressBar | null = null;
  return (p) => {
    if (p.source !== 'download') return;
    if (p.file !== current) {
      bar?.stop();
      bar = null;
      current = p.file;
      if (interactive) {
        bar = createProgressBar(`downloading ${p.model} {bar} {percentage}% | {done}/{size} MB`);
        bar.start(p.bytesTotal, 0, { done: '0.0', size: megabytes(p.bytesTotal) });
      } else {
        write(`downloading ${p.model}: ${p.file} (${megabytes(p.bytesTotal)} MB) into the weights cache\n`);
      }
    }
    bar?.update(p.bytesDone, { done: megabytes(p.bytesDone), size: megabytes(p.bytesTotal) });
    if (p.bytesDone >= p.bytesTotal) {
      bar?.stop();
      bar = null;
    }
  };
}
