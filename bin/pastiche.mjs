#!/usr/bin/env node
// The `pastiche` command. An installed package runs the built JavaScript (dist/) with plain node. A
// repository checkout (src/ beside this folder) runs the TypeScript source through tsx, a development
// dependency, so an edit takes effect without a build.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);

async function tsxLoader() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const tsx = existsSync(source) ? await tsxLoader() : undefined;
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('pastiche: the command is not built: run `npm install` (checkout: installs tsx) or `npm run build`\n');
  process.exitCode = 1;
}
