'use strict';
// Our versions of Node's own child_process tests (node/test/node-suite/), every suite against
// child_process and against the sandbox (default pipeline, and landlock and bwrap where the host
// has them). Prints N/M per suite and implementation. child_process must pass every case; the
// sandbox must too, except the cases listed in KNOWN with the reason (the README's Node section
// lists the same differences). A known failure that starts passing fails the test too, so that
// the list stays true.
const test = require('node:test');
const assert = require('node:assert/strict');
const { implementations } = require('./compat.js');
const { SUITES, loadSuite, runCases } = require('./node-suite.js');

/**
 * `suite/case name` -> why the sandbox differs; `when` limits it to some callers. Empty: every
 * case passes against the sandbox. A difference that must stay is listed here with its reason,
 * and in the README's Node section.
 */
const KNOWN = {};

const impls = implementations();

for (const suite of SUITES) {
  test(`Node's ${suite} tests`, { timeout: 600000 }, async (t) => {
    const cases = loadSuite(suite);
    const problems = [];
    for (const [implName, impl] of impls) {
      const results = await runCases(cases, impl, implName);
      const passed = results.filter((r) => r.ok).length;
      t.diagnostic(`${suite} [${implName}]: ${passed}/${results.length}`);
      for (const result of results) {
        const known = implName !== 'child_process' ? KNOWN[`${suite}/${result.name}`] : undefined;
        const expectedToFail = known !== undefined && known.when !== false;
        if (!result.ok) t.diagnostic(`  ${implName} fails ${result.name}${expectedToFail ? ` (known: ${known.why})` : ''}: ${result.error}`);
        if (!result.ok && !expectedToFail) problems.push(`${implName}: ${result.name}: ${result.error}`);
        if (result.ok && expectedToFail) problems.push(`${implName}: ${result.name} passes but is listed as a known difference`);
      }
    }
    assert.deepEqual(problems, []);
  });
}
