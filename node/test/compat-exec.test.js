'use strict';
// child_process vs sandbox: exec and execFile (callback and util.promisify forms), maxBuffer,
// timeout, killSignal, encoding, and the error a failed command produces.
const test = require('node:test');
const util = require('node:util');
const { compare } = require('./compat.js');

function errorShape(error) {
  if (error === null) return null;
  const out = { name: error.name, message: error.message };
  for (const key of ['code', 'errno', 'syscall', 'path', 'spawnargs', 'killed', 'signal', 'cmd', 'stdout', 'stderr']) {
    if (error[key] !== undefined) out[key] = error[key];
  }
  return out;
}

/** Calls `fn(cp, callback)` and resolves with what the callback got. */
function callback(fn) {
  return (cp) =>
    new Promise((resolve) => {
      fn(cp, (error, stdout, stderr) => resolve({ error: errorShape(error), stdout, stderr }));
    });
}

test('exec and execFile', async (t) => {
  await compare(t, [
    ['execFile success', callback((cp, cb) => cp.execFile('echo', ['a', 'b'], cb))],
    ['execFile without args', callback((cp, cb) => cp.execFile('pwd', { cwd: '/usr' }, cb))],
    ['execFile failure', callback((cp, cb) => cp.execFile('sh', ['-c', 'echo out; echo err >&2; exit 3'], cb))],
    ['execFile killed by a signal', callback((cp, cb) => cp.execFile('sh', ['-c', 'kill -KILL $$'], cb))],
    ['execFile timeout', callback((cp, cb) => cp.execFile('sleep', ['10'], { timeout: 100 }, cb))],
    ['execFile timeout, killSignal SIGKILL', callback((cp, cb) => cp.execFile('sleep', ['10'], { timeout: 100, killSignal: 'SIGKILL' }, cb))],
    ['execFile maxBuffer on stdout', callback((cp, cb) => cp.execFile('head', ['-c', '5000', '/dev/zero'], { maxBuffer: 100, encoding: 'latin1' }, cb))],
    ['execFile maxBuffer on stderr', callback((cp, cb) => cp.execFile('sh', ['-c', 'head -c 5000 /dev/zero >&2'], { maxBuffer: 10, encoding: 'latin1' }, cb))],
    ['execFile encoding buffer', callback((cp, cb) => cp.execFile('printf', ['\\001\\002'], { encoding: 'buffer' }, cb))],
    ['execFile not found', callback((cp, cb) => cp.execFile('codex-sandbox-no-such-command', ['x'], { env: { PATH: '/usr/bin:/bin' } }, cb))],
    ['execFile not executable', callback((cp, cb) => cp.execFile('/etc/passwd', cb))],
    ['exec shell line', callback((cp, cb) => cp.exec('echo "$0" | tr a-z A-Z', cb))],
    ['exec failure', callback((cp, cb) => cp.exec('exit 5', cb))],
    ['exec custom shell', callback((cp, cb) => cp.exec('echo $0', { shell: '/bin/bash' }, cb))],
    ['exec env', callback((cp, cb) => cp.exec('echo "$A-$B"', { env: { A: 1, B: 'two' } }, cb))],
    ['exec timeout', callback((cp, cb) => cp.exec('sleep 10', { timeout: 100 }, cb))],
    ['exec AbortSignal', callback((cp, cb) => {
      const controller = new AbortController();
      cp.exec('sleep 10', { signal: controller.signal }, cb);
      setTimeout(() => controller.abort(), 50);
    })],
    ['promisify(execFile) success', async (cp) => util.promisify(cp.execFile)('echo', ['promised'])],
    ['promisify(execFile) failure', async (cp) => util.promisify(cp.execFile)('sh', ['-c', 'echo o; exit 2']).catch(errorShape)],
    ['promisify(exec) success', async (cp) => util.promisify(cp.exec)('echo hi')],
    ['promisify(exec) has .child', async (cp) => {
      const promise = util.promisify(cp.exec)('true');
      const isChild = promise.child instanceof require('node:child_process').ChildProcess;
      await promise;
      return isChild;
    }],
    ['bad callback', async (cp) => {
      try {
        cp.execFile('true', [], {}, 5);
        return 'accepted';
      } catch (error) {
        return { name: error.name, code: error.code };
      }
    }],
    ['bad timeout', async (cp) => {
      try {
        cp.exec('true', { timeout: 'x' });
        return 'accepted';
      } catch (error) {
        return { name: error.name, code: error.code };
      }
    }],
  ]);
});
