#!/usr/bin/env node
// Project checks beyond the type checker: no `any` in source, no focused or skipped tests, no
// stray console.log in the engine, and the module graph of src/ free of import cycles and layer
// inversions (dependency-cruiser, rules in .dependency-cruiser.cjs). Exits non-zero listing every finding.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.ts$/.test(name)) yield path;
  }
}

const rules = [
  { where: ['src'], pattern: /(:\s*any\b|\bas any\b|<any>)/, message: "'any' type (use a precise type or unknown)" },
  { where: ['test', 'bench'], pattern: /\b(it|test|describe)\.(only|skip|todo)\(|\bxit\(/, message: 'focused or skipped test' },
  { where: ['src/gpu', 'src/autograd', 'src/shaders', 'src/nets'], pattern: /\bconsole\.log\(/, message: 'console.log in library code' },
];

const findings = [];
for (const rule of rules) {
  for (const base of rule.where) {
    for (const file of files(join(root, base))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, ''); // comments may mention anything
          if (rule.pattern.test(code)) findings.push(`${relative(root, file)}:${i + 1}: ${rule.message}`);
        });
    }
  }
}
// Module-graph rules: the cruiser prints one block per violation and exits non-zero when there are any.
const cruiser = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const cruise = spawnSync(process.execPath, [cruiser, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
  cwd: root,
  encoding: 'utf8',
});
if (cruise.status !== 0) findings.push(`module graph (npx depcruise src --config .dependency-cruiser.cjs):\n${(cruise.stdout + cruise.stderr).trim()}`);

if (findings.length) {
  console.error(findings.join('\n'));
  process.exit(1);
}
console.log('lint: no findings');
