/** The method registry: unique ids, and every definition's options well-formed (ranges, defaults, choices, page hints). */
import { describe, expect, it } from 'vitest';
import type { OptionSpec } from '../../../src/nets/methods/contract.ts';
import { checkOptionValue, optionFlag } from '../../../src/nets/methods/options.ts';
import { defaultMethodId, findMethod, METHODS, methodById } from '../../../src/nets/methods/registry.ts';

/** The problems of one option spec (empty when it is well-formed). */
function specProblems(spec: OptionSpec): string[] {
  const problems: string[] = [];
  if (!/^[a-z][a-zA-Z0-9]*$/.test(spec.id)) problems.push(`id '${spec.id}' is not camelCase`);
  if (!spec.label || !spec.description) problems.push('needs a label and a description');
  if (spec.kind === 'number' || spec.kind === 'integer' || spec.kind === 'number-list') {
    if (!(spec.min <= spec.max)) problems.push(`min ${spec.min} > max ${spec.max}`);
    const defaults = spec.default === undefined ? [] : Array.isArray(spec.default) ? spec.default : [spec.default];
    for (const d of defaults as number[]) if (d < spec.min || d > spec.max || (spec.kind === 'integer' && !Number.isInteger(d))) problems.push(`default ${d} outside its range`);
  }
  if (spec.kind === 'choice') {
    const values = spec.choices.map((c) => c.value);
    if (values.length === 0 && !spec.open) problems.push('a closed choice with no choices');
    if (new Set(values).size !== values.length) problems.push('repeated choices');
    if (spec.default !== undefined && !spec.open && !values.includes(spec.default)) problems.push(`default '${spec.default}' is not a choice`);
    if (spec.bare !== undefined && !values.includes(spec.bare)) problems.push(`bare value '${spec.bare}' is not a choice`);
  }
  if (spec.kind === 'text' && spec.pattern && !spec.pattern.test(spec.example)) problems.push(`its example '${spec.example}' does not match its pattern`);
  const ui = spec.ui;
  if (ui && (spec.kind === 'number' || spec.kind === 'integer')) {
    if (ui.min !== undefined && ui.min < spec.min) problems.push('page minimum below the range');
    if (ui.max !== undefined && ui.max > spec.max) problems.push('page maximum above the range');
    if (ui.scale === 'log' && (ui.min ?? spec.min) <= 0) problems.push('a log slider needs a positive minimum');
  }
  return problems;
}

describe('the method registry', () => {
  it('has unique ids and aliases, and finds each method by either', () => {
    const names = METHODS.flatMap((m) => [m.id, ...(m.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
    for (const m of METHODS) {
      expect(methodById(m.id)).toBe(m);
      for (const alias of m.aliases ?? []) expect(findMethod(alias)).toBe(m);
    }
    expect(methodById('transformer').id).toBe('feed-forward');
    expect(() => methodById('nope')).toThrow(/unknown method 'nope'; available: .*feed-forward \(or transformer\)/);
    expect([defaultMethodId(0), defaultMethodId(2)]).toEqual(['feed-forward', 'magenta']);
  });

  it("gives every option a well-formed spec, whose default passes the option's own check", () => {
    const problems: string[] = [];
    for (const m of METHODS) {
      const ids = m.options.map((o) => o.id);
      if (new Set(ids).size !== ids.length) problems.push(`${m.id}: repeated option ids`);
      for (const spec of m.options) {
        problems.push(...specProblems(spec).map((p) => `${m.id}.${spec.id}: ${p}`));
        if ('default' in spec && spec.default !== undefined) expect(() => checkOptionValue(m, spec, spec.default, 'key')).not.toThrow();
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives an option shared by several methods one kind and one flag, so the command line has one flag per option', () => {
    const byId = new Map<string, { kind: string; flag: string; method: string }>();
    for (const m of METHODS) {
      for (const spec of m.options) {
        const seen = byId.get(spec.id);
        const flag = spec.flag ?? optionFlag(spec.id, []);
        if (!seen) byId.set(spec.id, { kind: spec.kind, flag, method: m.id });
        else expect({ id: spec.id, kind: spec.kind, flag }, `${m.id} vs ${seen.method}`).toEqual({ id: spec.id, kind: seen.kind, flag: seen.flag });
      }
    }
    expect(byId.size).toBeGreaterThan(10);
  });

  it('the specs catch a malformed option (the check can fail)', () => {
    expect(specProblems({ id: 'x', label: 'X', description: 'x', kind: 'number', min: 1, max: 0 })).toEqual(['min 1 > max 0']);
    expect(specProblems({ id: 'y', label: 'Y', description: 'y', kind: 'choice', choices: [{ value: 'a', label: 'A' }], default: 'b', bare: 'c' })).toHaveLength(2);
  });
});
