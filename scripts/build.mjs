#!/usr/bin/env node
// The library build (`npm run build`): src/ (less the demo page) compiled by tsc into dist/ as
// JavaScript and declarations. tsc rewrites the `.ts` import specifiers in the JavaScript but leaves
// them in the declarations, so they are rewritten here; the hand-written ambient declarations (the
// untyped CommonJS packages) are copied beside them, and each entry's declaration pulls in the
// WebGPU types its signatures use. dist/app (the page, built by Vite) is left alone.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const dist = join(root, 'dist');
const AMBIENT = ['io/vendor.d.ts', 'gpu/wgsl-reflect.d.ts'];
const ENTRIES = ['index.node.d.ts', 'index.browser.d.ts', 'index.d.ts'];

// A clean output: a module deleted from src must not live on in the package.
mkdirSync(dist, { recursive: true });
for (const name of readdirSync(dist)) if (name !== 'app') rmSync(join(dist, name), { recursive: true, force: true });

const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);

function* declarations(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (path !== join(dist, 'app')) yield* declarations(path);
    } else if (name.endsWith('.d.ts')) yield path;
  }
}

// `from './x.ts'` and `import('./x.ts')` → `.js`, relative specifiers only.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.\.?\/[^'"]*?)\.ts(['"])/g;
let rewritten = 0;
for (const file of declarations(dist)) {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(TS_SPECIFIER, '$1$2.js$3');
  if (next !== text) {
    writeFileSync(file, next);
    rewritten++;
  }
}
for (const rel of AMBIENT) {
  mkdirSync(dirname(join(dist, rel)), { recursive: true });
  copyFileSync(join(root, 'src', rel), join(dist, rel));
}
const references = ['/// <reference types="@webgpu/types" />', ...AMBIENT.map((rel) => `/// <reference path="./${rel}" />`)].join('\n');
for (const entry of ENTRIES) {
  const file = join(dist, entry);
  try {
    writeFileSync(file, `${references}\n${readFileSync(file, 'utf8')}`);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}
console.log(`build: dist/ written (${rewritten} declaration files with .ts specifiers rewritten; ${relative(root, dist)}/index.node.js is the Node entry)`);
