import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatLoss, stopOnCtrlC, TrainingProgress, trainingSummary } from '../../src/cli/training-progress.ts';

function captureStderr(): { lines: () => string[]; restore: () => void } {
  const written: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return { lines: () => written.join('').split('\n').filter(Boolean), restore: () => spy.mockRestore() };
}

afterEach(() => vi.restoreAllMocks());

describe('training progress (CLI)', () => {
  it('formats losses with four significant digits, exponents for the very large and small', () => {
    expect(formatLoss(1.234567)).toBe('1.235');
    expect(formatLoss(123456)).toBe('1.23e+5');
    expect(formatLoss(0.001234)).toBe('1.23e-3');
    expect(formatLoss(0)).toBe('0.000');
    expect(formatLoss(undefined)).toBe('-');
    expect(formatLoss(NaN)).toBe('-');
  });

  it('prints the opening line, the last iteration and validations as plain lines off a terminal', () => {
    const out = captureStderr();
    const tty = process.stderr.isTTY;
    process.stderr.isTTY = false; // plain lines, even when the tests run in a terminal
    const progress = new TrainingProgress('train', 'model', 3);
    process.stderr.isTTY = tty;
    const hooks = progress.hooks<{ iterations: number; startIteration: number; photos: number }>((i) => `training on ${i.photos} photos for ${i.iterations}`);
    hooks.onStart?.({ iterations: 2, startIteration: 0, photos: 7 });
    hooks.onIteration?.({ iteration: 2, iterations: 2, total: 3.5, terms: { content: 1, style: 2.5 }, imagesPerSecond: 4, seconds: 1 });
    hooks.onValidation?.({ iteration: 2, loss: 2, improved: false, best: { iteration: 1, loss: 1.5 }, sinceImprovement: 1 });
    hooks.onUnreadable?.('a.jpg', 'a.jpg: not an image');
    progress.stop();
    out.restore();
    expect(out.lines()).toEqual([
      'training on 7 photos for 2',
      'iteration 2/2: loss 3.500 (content 1.000, style 2.500), 4.00 img/s',
      'validation at iteration 2: 2.000 (best 1.500 at 1; 1/3 without improvement)',
      'skipping unreadable image (reported once): a.jpg: not an image',
    ]);
  });

  it('summarises why a run stopped and where its files are', () => {
    const text = trainingSummary({
      result: {
        iteration: 40,
        stopReason: 'early-stop',
        best: { iteration: 20, loss: 0.5 },
        weights: new Map(),
        history: { iterations: [], train: [], validation: [] } as never,
        seconds: 150,
        output: 'out/d.safetensors',
        checkpoint: 'out/d.ckpt.safetensors',
        lossCurve: null,
        unreadable: new Map([['x.png', 'bad']]),
      },
      artefact: 'decoder',
      patience: 5,
      useCommand: 'stylize: X',
      resumeCommand: 'Y',
    });
    expect(text.split('\n')).toEqual([
      'stopped early at iteration 40: validation loss did not improve for 5 validations',
      'best validation loss 0.5000 at iteration 20: those weights are the decoder',
      'decoder:    out/d.safetensors  (stylize: X)',
      'checkpoint: out/d.ckpt.safetensors  (continue: Y)',
      'skipped 1 unreadable image(s)',
      'time: 2.5 min',
      '',
    ]);
  });

  it('Ctrl-C once asks the run to stop after its iteration; dispose removes the handler', () => {
    const said: string[] = [];
    const before = process.listenerCount('SIGINT');
    const ctrlC = stopOnCtrlC((l) => said.push(l), 'model');
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(ctrlC.interrupted()).toBe(false);
    process.emit('SIGINT', 'SIGINT');
    expect(ctrlC.interrupted()).toBe(true);
    expect(said[0]).toMatch(/stopping after this iteration .*best model/);
    ctrlC.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
