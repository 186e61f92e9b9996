'use strict';
// Node's tests of spawnSync() (test/parallel/test-child-process-spawnsync*), as what each
// asserts.
const os = require('node:os');
const { assert, throwsLike, tempDir, NODE } = require('./common.js');

const dir = tempDir('codex-suite-spawnsync-');

module.exports = [
  ['spawnsync: status, output, pid; ENOENT in result.error', async (cp) => {
    const ok = cp.spawnSync('echo', ['hi']);
    assert.equal(ok.status, 0);
    assert.equal(ok.signal, null);
    assert.equal(ok.stdout.toString(), 'hi\n');
    assert.deepEqual(ok.output.map((o) => o && o.toString()), [null, 'hi\n', '']);
    assert.ok(ok.pid > 0);
    const missing = cp.spawnSync('codex-suite-no-such-command', ['a']);
    assert.equal(missing.error.code, 'ENOENT');
    assert.equal(missing.error.errno, -os.constants.errno.ENOENT);
    assert.equal(missing.error.syscall, 'spawnSync codex-suite-no-such-command');
    assert.equal(missing.error.path, 'codex-suite-no-such-command');
    assert.deepEqual(missing.error.spawnargs, ['a']);
    assert.equal(missing.status, null);
  }],
  ['spawnsync-input: string, Buffer and TypedArray input', async (cp) => {
    assert.equal(cp.spawnSync('cat', { input: 'hello' }).stdout.toString(), 'hello');
    assert.equal(cp.spawnSync('cat', { input: Buffer.from('buf') }).stdout.toString(), 'buf');
    assert.equal(cp.spawnSync('cat', { input: new Uint8Array([104, 105]) }).stdout.toString(), 'hi');
    throwsLike(() => cp.spawnSync('cat', { input: 42 }), { code: 'ERR_INVALID_ARG_TYPE' });
  }],
  ['spawnsync-maxbuf: ENOBUFS, killed, output kept up to the limit', async (cp) => {
    const r = cp.spawnSync(NODE, ['-e', 'process.stdout.write("x".repeat(100)); setTimeout(() => {}, 5000)'], { maxBuffer: 10 });
    assert.equal(r.error.code, 'ENOBUFS');
    assert.equal(r.signal, 'SIGTERM');
    assert.ok(r.stdout.length >= 10);
    const unlimited = cp.spawnSync(NODE, ['-e', 'process.stdout.write("x".repeat(2 * 1024 * 1024))'], { maxBuffer: Infinity });
    assert.equal(unlimited.error, undefined);
    assert.equal(unlimited.stdout.length, 2 * 1024 * 1024);
  }],
  ['spawnsync-timeout: ETIMEDOUT and SIGTERM', async (cp) => {
    const started = Date.now();
    const r = cp.spawnSync('sleep', ['10'], { timeout: 100 });
    assert.equal(r.error.code, 'ETIMEDOUT');
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(r.status, null);
    assert.ok(Date.now() - started < 5000);
  }],
  ['spawnsync-kill-signal: killSignal for the timeout', async (cp) => {
    assert.equal(cp.spawnSync('sleep', ['10'], { timeout: 50, killSignal: 'SIGKILL' }).signal, 'SIGKILL');
    assert.equal(cp.spawnSync('sleep', ['10'], { timeout: 50, killSignal: 9 }).signal, 'SIGKILL');
  }],
  ['spawnsync-env: exactly the environment given', async (cp) => {
    assert.equal(cp.spawnSync('/usr/bin/env', { env: { CODEX_SUITE_S: 'b' }, encoding: 'utf8' }).stdout, 'CODEX_SUITE_S=b\n');
  }],
  ['spawnsync-validation-errors: Node\'s errors for bad options', async (cp) => {
    const type = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' };
    throwsLike(() => cp.spawnSync('echo', { cwd: 42 }), type);
    throwsLike(() => cp.spawnSync('echo', { detached: 'yes' }), type);
    throwsLike(() => cp.spawnSync('echo', { uid: 1.5 }), type);
    throwsLike(() => cp.spawnSync('echo', { gid: '0' }), type);
    throwsLike(() => cp.spawnSync('echo', { shell: 1 }), type);
    throwsLike(() => cp.spawnSync('echo', { argv0: 1 }), type);
    throwsLike(() => cp.spawnSync('echo', { windowsHide: 1 }), type);
    throwsLike(() => cp.spawnSync('echo', { timeout: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    throwsLike(() => cp.spawnSync('echo', { maxBuffer: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    throwsLike(() => cp.spawnSync('echo', { killSignal: 'SIGNOPE' }), { name: 'TypeError', code: 'ERR_UNKNOWN_SIGNAL' });
  }],
  ['spawnsync-shell: shell true expands', async (cp) => {
    const r = cp.spawnSync('echo $CODEX_SUITE_X', { shell: true, env: { CODEX_SUITE_X: 'z' }, encoding: 'utf8' });
    assert.equal(r.stdout, 'z\n');
  }],
  ['spawnsync-args: args undefined or null, cwd taken', async (cp) => {
    for (const args of [undefined, null]) assert.equal(cp.spawnSync('pwd', args, { cwd: dir, encoding: 'utf8' }).stdout, `${dir}\n`);
  }],
  ['spawnsync: stdio[3] pipes are collected in output', async (cp) => {
    const r = cp.spawnSync('sh', ['-c', 'echo three >&3; echo out'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.deepEqual(r.output, [null, 'out\n', '', 'three\n']);
    const ignored = cp.spawnSync('true', { stdio: ['pipe', 'pipe', 'pipe', 'ignore'] });
    assert.equal(ignored.output[3], null);
  }],
];
