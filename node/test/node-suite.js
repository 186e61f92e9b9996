'use strict';
// Our versions of Node's own tests of child_process (test/parallel/test-child-process-*):
// what each of Node's tests asserts, written anew as one case per test, run against a chosen
// implementation. node-suites.test.js runs every suite against child_process and against the
// sandbox (both pipelines where the host has them) and prints N/M for each; from a shell:
//
//   node node/test/node-suite.js spawn --impl=sandbox      (impl: child_process, sandbox,
//                                                           landlock, bwrap; suite: spawn,
//                                                           exec, execFile, spawnSync,
//                                                           execSync, execFileSync, fork)
//
// A case is `[name, async (cp, context) => { ...asserts... }]`; `cp` has child_process's
// functions (for landlock/bwrap with `pipeline` added to every call), `context.implName` names
// it and `context.source` is the code that loads the same implementation in another Node
// process (for the cases that need a parent of their own: 'inherit', ulimit, unref).

const path = require('node:path');
const util = require('node:util');
const { implementations } = require('./compat.js');

const SUITES = ['spawn', 'exec', 'execFile', 'spawnSync', 'execSync', 'execFileSync', 'fork'];
const root = path.join(__dirname, '..', '..');

/** JS source that defines `cp` as implementation `implName` in a fresh Node process. */
function implSource(implName) {
  if (implName === 'child_process') return "const cp = require('node:child_process');";
  const load = `require(${JSON.stringify(root)})`;
  if (implName === 'sandbox') return `const cp = ${load};`;
  return `const cp = require(${JSON.stringify(path.join(__dirname, 'compat.js'))}).withOptions(${load}, { pipeline: ${JSON.stringify(implName)} });`;
}

function loadSuite(name) {
  if (!SUITES.includes(name)) throw new Error(`unknown suite ${name} (one of ${SUITES.join(', ')})`);
  return require(`./node-suite/${name}.js`);
}

function bounded(promise, what, ms) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every case of `cases` against `impl`; resolves with one `{ name, ok, error }` each. */
async function runCases(cases, impl, implName, onResult = () => {}) {
  const results = [];
  for (const [name, body, { timeout = 30000 } = {}] of cases) {
    try {
      await bounded(Promise.resolve().then(() => body(impl, { implName, source: implSource(implName) })), name, timeout);
      results.push({ name, ok: true });
    } catch (error) {
      results.push({ name, ok: false, error: util.inspect(error, { depth: 2, breakLength: Infinity }).split('\n').slice(0, 6).join(' ') });
    }
    onResult(results.at(-1));
  }
  return results;
}

module.exports = { SUITES, loadSuite, runCases, implSource };

if (require.main === module) {
  const suite = process.argv[2] ?? 'spawn';
  const implName = (process.argv.find((a) => a.startsWith('--impl=')) ?? '--impl=sandbox').slice(7);
  const impl = implementations().find(([name]) => name === implName)?.[1];
  if (!impl) throw new Error(`implementation ${implName} is not available here`);
  const print = (result) => console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.name}${result.ok ? '' : `: ${result.error}`}`);
  runCases(loadSuite(suite), impl, implName, print).then((results) => {
    console.log(`${suite} [${implName}]: ${results.filter((r) => r.ok).length}/${results.length}`);
    // A failed case may leave a child running (and holding the loop).
    process.exit(0);
  });
}
