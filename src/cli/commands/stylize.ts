/**
 * `pastiche stylize CONTENT... [--method ID] [--style IMAGE...]`: one command, one generic path for every
 * method of the registry. The flags after the fixed ones come from the methods' option specs, so a new
 * method's options appear here (and in --help) with nothing to add.
 */
import { Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import type { OptionSpec } from '../../nets/methods/contract.ts';
import { methodsTaking, optionFlag, optionHelp } from '../../nets/methods/options.ts';
import { METHODS } from '../../nets/methods/registry.ts';
import { batchSummary, StylizeBatch, stylizeExitCode } from '../stylize/batch.ts';
import { checkContentImages, checkModelFile, checkSharedImages } from '../stylize/inputs.ts';
import { checkOutputFolder, planOutputs } from '../stylize/output-plan.ts';
import { allOptionSpecs, attributeOf, planStylize, type RawStylizeOptions, type StylizePlan } from '../stylize/plan.ts';
import { runStylizePlan } from '../stylize/run.ts';
import { downloadProgress } from '../download-progress.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The flag's syntax: a bare switch, an optional value, or a required one. */
function flagSyntax(spec: OptionSpec): string {
  const flag = optionFlag(spec.id);
  if (spec.kind === 'boolean') return flag;
  if (spec.kind === 'choice' && spec.bare !== undefined) return `${flag} [value]`;
  return `${flag} <value>`;
}

/** Help for an option: which methods take it, and what it means for each (once when they agree). */
function flagHelp(id: string): string {
  const takers = methodsTaking(id);
  const groups = new Map<string, string[]>();
  for (const m of takers) {
    const help = optionHelp(m.options.find((o) => o.id === id)!);
    groups.set(help, [...(groups.get(help) ?? []), m.id]);
  }
  if (groups.size === 1 && takers.length === METHODS.length) return [...groups.keys()][0]!;
  return [...groups].map(([help, methods]) => `${methods.join(', ')}: ${help}`).join(' — ');
}

/** The message for the first Ctrl-C: what will still be written. */
function interruptMessage(iterative: boolean): string {
  const what = iterative ? 'after this iteration (the best image so far is written)' : 'after the current image (it is written)';
  return `\nstopping ${what}; press Ctrl-C again to quit at once\n`;
}

/** The flags every run has, then one per option id of the registry's methods. */
function defineStylizeOptions(command: Command): Command {
  const ids = METHODS.map((m) => m.id + (m.aliases?.length ? ` (${m.aliases.join(', ')})` : '')).join(' | ');
  command
    .argument('<content...>', 'content image(s), PNG or JPEG')
    .option('-m, --method <name>', `${ids}; default feed-forward (model mathura) without --style, magenta with --style`)
    .option('-s, --style <image>', 'style image (repeat for several styles)', collect)
    .option('--blend <w1,w2,...>', 'blend weights of several --style images, one per style ("0.7,0.3"); default equal')
    .option('-o, --output <path>', 'output image, .png or .jpg/.jpeg; for several content images a folder of <name>.png (a repeated name becomes <name>-2.png)', 'out.png')
    .option('--mirror <dir>', 'weights mirror folder (default $PASTICHE_WEIGHTS_MIRROR)')
    .option('--cache <dir>', 'weights cache folder (default $PASTICHE_CACHE_DIR, else $XDG_CACHE_HOME/pastiche or ~/.cache/pastiche)');
  for (const spec of allOptionSpecs()) command.option(flagSyntax(spec), flagHelp(spec.id));
  return command;
}

function planFromCommand(raw: RawStylizeOptions, cmd: Command): StylizePlan {
  const typed = new Set(allOptionSpecs().map((s) => attributeOf(optionFlag(s.id))).filter((a) => cmd.getOptionValueSource(a) === 'cli'));
  return planStylize(raw, typed);
}

/** The checked plan for `pastiche stylize ARGS` (no file is read): what the command would run. */
export async function stylizePlanFor(args: readonly string[]): Promise<StylizePlan> {
  let plan: StylizePlan | undefined;
  const command = defineStylizeOptions(new Command('stylize').exitOverride().configureOutput({ writeErr: () => {} }));
  command.action((_contents: string[], raw: RawStylizeOptions, cmd: Command) => {
    plan = planFromCommand(raw, cmd);
  });
  await command.parseAsync([...args], { from: 'user' });
  return plan!;
}

export function registerStylizeCommand(program: Command): void {
  const command = defineStylizeOptions(program.command('stylize').description('stylize images with one of the methods; exit code 1 if any image failed, 130 after Ctrl-C'));
  command.action(async (contents: string[], raw: RawStylizeOptions, cmd: Command) => {
    // Everything is checked before the GPU starts: a mistake should cost seconds, not a long run.
    const plan = planFromCommand(raw, cmd);
    const { output, mirror, cache } = raw;
    for (const option of ['model', 'decoder'] as const) {
      const path = plan.values[option];
      if (typeof path === 'string') await checkModelFile(`--${option}`, path);
    }
    await checkSharedImages([...plan.styles.map((path) => ({ path, role: '--style' })), ...plan.imageOptions.map((o) => ({ path: o.path, role: optionFlag(o.id) }))]);
    const checked = await checkContentImages(contents);
    if (checked.valid.length === 0) throw new Error(`no content image can be read: ${checked.failed.map((f) => f.reason).join('; ')}`);
    for (const failure of checked.failed) process.stderr.write(`skipping ${failure.content}: ${failure.reason}\n`);
    const outputs = planOutputs(checked.valid, output, [...contents, ...plan.styles, ...plan.imageOptions.map((o) => o.path)], contents.length);
    if (outputs.renamed.length > 0) {
      process.stderr.write(`several results share a name; renamed: ${outputs.renamed.map((r) => `${r.content} → ${r.output}`).join(', ')}\n`);
    }
    await checkOutputFolder(outputs.folder);

    const batch = new StylizeBatch(outputs.items, checked.failed);
    let current: AbortController | null = null;
    const iterative = plan.method.iterative === true;
    const onInterrupt = () => {
      if (batch.stopRequested) process.exit(130);
      batch.requestStop();
      // One-pass methods finish the image they are on; iterative ones stop with their best image so far.
      if (iterative) current?.abort(new Error('interrupted'));
      process.stderr.write(interruptMessage(iterative));
    };
    process.on('SIGINT', onInterrupt);
    try {
      const runtime = await initRuntime();
      try {
        const store = { ...(mirror !== undefined ? { mirrorDir: mirror } : {}), ...(cache !== undefined ? { cacheDir: cache } : {}), onProgress: downloadProgress() };
        await runStylizePlan({ runtime, plan, batch, store, onCurrent: (c) => (current = c) });
      } finally {
        runtime.destroy();
      }
    } finally {
      process.off('SIGINT', onInterrupt);
    }
    const outcome = batch.outcome();
    const summary = batchSummary(outcome);
    if (summary) process.stderr.write(`${summary}\n`);
    process.exitCode = stylizeExitCode(outcome);
  });
}
