import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

/**
 * Prints one plain closing line (`N passed, N failed, N skipped`) that CI reads. Truthful:
 * - a test that did not run because a hook of its suite or file failed counts as failed (vitest
 *   itself marks it skipped);
 * - a file that failed without a failed test (an import error, a throwing afterAll) counts as one;
 * - skipped means skipped on purpose (`it.skip`, `skipIf`, `ctx.skip()`, `todo`); their names are
 *   listed so nobody mistakes a skip for a pass.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = errors.length;
    const skipped: string[] = [];
    for (const mod of testModules) {
      const failedBefore = failed;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed' || underFailedHook(test)) failed++;
        else skipped.push(`${mod.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}`);
      }
      // A file that failed without a failed test (not collected, or its afterAll threw).
      if (failed === failedBefore && mod.errors().length > 0) failed += 1;
    }
    for (const name of skipped) process.stdout.write(`skipped: ${name}\n`);
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}

/** Whether a suite or the file around `test` has errors (a failed beforeAll/afterAll). */
function underFailedHook(test: TestCase): boolean {
  for (let p: TestSuite | TestModule = test.parent; ; p = p.parent) {
    if (p.errors().length > 0) return true;
    if (p.type === 'module') return false;
  }
}
