'use strict';
// The differential harness of the compat-*.test.js files: every scenario runs against
// child_process and against the sandbox (both pipelines where the host has them), one table
// row per scenario, and each sandbox column must equal child_process's unless the scenario
// names the difference (and the README's Node section explains it).

const assert = require('node:assert/strict');
const util = require('node:util');
const childProcess = require('node:child_process');
const sandbox = require('@codex/linux-sandbox');

const FUNCTIONS = ['spawn', 'spawnSync', 'exec', 'execFile', 'execSync', 'execFileSync', 'fork'];
/** Functions whose second argument is the options (no args array). */
const NO_ARGS = new Set(['exec', 'execSync']);

/** `impl` with `extra` options added to every call (a pipeline, a policy). */
function withOptions(impl, extra) {
  const wrapped = { ChildProcess: impl.ChildProcess };
  for (const name of FUNCTIONS) {
    wrapped[name] = (first, ...rest) => {
      // Where the options go: after the args array (or its null/undefined placeholder).
      const at = !NO_ARGS.has(name) && (Array.isArray(rest[0]) || (rest[0] == null && rest.length > 0)) ? 1 : 0;
      const options = rest[at];
      if (options === undefined || typeof options === 'function') {
        rest.splice(at, options === undefined ? 1 : 0, { ...extra });
      } else if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
        rest[at] = { ...extra, ...options };
      }
      // Anything else is invalid: passed through unchanged for the implementation to refuse.
      return impl[name](first, ...rest);
    };
  }
  for (const name of ['exec', 'execFile']) {
    wrapped[name][util.promisify.custom] = (...params) => {
      let child;
      const promise = new Promise((resolve, reject) => {
        child = wrapped[name](...params, (error, stdout, stderr) => (error ? reject(Object.assign(error, { stdout, stderr })) : resolve({ stdout, stderr })));
      });
      promise.child = child;
      return promise;
    };
  }
  return wrapped;
}

function implementations(plain = false) {
  const list = [['child_process', childProcess], ['sandbox', sandbox]];
  if (plain) return list;
  const host = sandbox.probe();
  if (host.landlock.available) list.push(['landlock', withOptions(sandbox, { pipeline: 'landlock' })]);
  if (host.namespaces.available) list.push(['bwrap', withOptions(sandbox, { pipeline: 'bwrap' })]);
  return list;
}

/** Every scenario ends: one that does not is a failure of its own, not a hung test file. */
function bounded(promise, what, ms = 30000) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ hung: `${what} did not finish within ${ms} ms` }), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What a thrown error looks like in the table. */
function thrown(error) {
  return { threw: error?.constructor?.name, code: error?.code };
}

/**
 * Runs `scenarios` ([name, async (impl) => observation, { differs }?]) against every
 * implementation; prints the table; asserts agreement. `differs: ['landlock']` or `true`
 * marks a known, documented difference (the row is still printed).
 */
async function compare(t, scenarios, { plain = false } = {}) {
  const impls = implementations(plain);
  const rows = [];
  const failures = [];
  for (const [name, scenario, { differs = false } = {}] of scenarios) {
    const row = { scenario: name };
    for (const [implName, impl] of impls) {
      try {
        row[implName] = await bounded(scenario(impl, implName), `${name} [${implName}]`);
      } catch (error) {
        row[implName] = thrown(error);
      }
    }
    rows.push(row);
    for (const [implName] of impls.slice(1)) {
      const allowed = differs === true || (Array.isArray(differs) && differs.includes(implName));
      try {
        assert.deepStrictEqual(row[implName], row.child_process);
      } catch {
        if (!allowed) failures.push(`${name} [${implName}]: ${util.inspect(row[implName], { depth: 4, breakLength: Infinity })} vs child_process ${util.inspect(row.child_process, { depth: 4, breakLength: Infinity })}`);
      }
    }
  }
  for (const row of rows) {
    const cells = impls.map(([implName]) => `${implName}=${util.inspect(row[implName], { depth: 4, breakLength: Infinity })}`);
    t.diagnostic(`${row.scenario}: ${cells.join(' | ')}`);
  }
  assert.deepEqual(failures, [], `sandbox differs from child_process:\n${failures.join('\n')}`);
}

/** Resolves with the events a child emits, in order, until 'close' (bounded). */
function events(child, { timeout = 15000, data = false } = {}) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => reject(new Error(`no 'close' within ${timeout} ms: ${seen.join(' ')}`)), timeout);
    child.on('spawn', () => seen.push('spawn'));
    child.on('error', (error) => seen.push(`error:${error.code ?? error.name}`));
    child.on('exit', (code, signal) => seen.push(`exit:${code}:${signal}`));
    const output = { stdout: '', stderr: '' };
    for (const name of ['stdout', 'stderr']) {
      child[name]?.on('data', (chunk) => {
        output[name] += chunk;
      });
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      seen.push(`close:${code}:${signal}`);
      resolve(data ? { events: seen, ...output } : seen);
    });
  });
}

/** Runs a Node script (as a child of child_process, unsandboxed) and returns its stdout. */
function nodeScript(source, { env = process.env, shell } = {}) {
  const args = ['-e', source];
  if (shell) return childProcess.spawnSync('/bin/sh', ['-c', shell, 'sh', process.execPath, ...args], { encoding: 'utf8', env, timeout: 120000 });
  return childProcess.spawnSync(process.execPath, args, { encoding: 'utf8', env, timeout: 120000 });
}

module.exports = { compare, events, implementations, withOptions, nodeScript, childProcess, sandbox };
