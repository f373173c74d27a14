// A test that runs no assertion proves nothing: every test must reach at least one expect(...)
// (expect(fn).toThrow, expect(promise).rejects and expect.fail count). Tests that cannot run on this
// machine say so with it.skipIf(...) and a reason in their title rather than returning early.
import { beforeEach, expect } from 'vitest';

beforeEach(() => {
  expect.hasAssertions();
});
