#!/usr/bin/env node
/** The `pastiche` command line. The commands are built in program.ts, which tests import without running anything. */
import { adoptParentTerminal, runInChild, runsInChild } from './child-run.ts';
import { buildProgram } from './program.ts';

async function main(argv: string[]): Promise<void> {
  if (runsInChild(argv)) {
    process.exitCode = await runInChild(argv);
    return;
  }
  adoptParentTerminal();
  const program = buildProgram();
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`pastiche: ${message}\n`);
  process.exitCode = 1;
});
