'use strict';
// Node's tests of execSync() (test/parallel/test-child-process-execsync*), as what each
// asserts.
const { assert, caught, runScript } = require('./common.js');

module.exports = [
  ['execsync: stdout as a Buffer, or a string with encoding', async (cp) => {
    const out = cp.execSync('echo hi');
    assert.ok(Buffer.isBuffer(out));
    assert.equal(out.toString(), 'hi\n');
    assert.equal(cp.execSync('echo hi', { encoding: 'utf8' }), 'hi\n');
  }],
  ['execsync: a failing command throws with status, stdout and stderr', async (cp) => {
    const error = caught(() => cp.execSync('echo o; echo e >&2; exit 3', { stdio: 'pipe' }));
    assert.equal(error.status, 3);
    assert.equal(error.stdout.toString(), 'o\n');
    assert.equal(error.stderr.toString(), 'e\n');
    assert.equal(error.message, 'Command failed: echo o; echo e >&2; exit 3\ne\n');
  }],
  ['execsync: timeout throws ETIMEDOUT', async (cp) => {
    const error = caught(() => cp.execSync('sleep 10', { timeout: 100 }));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.equal(error.signal, 'SIGTERM');
  }],
  ['execsync-maxbuf: ENOBUFS beyond maxBuffer; output kept', async (cp) => {
    const error = caught(() => cp.execSync('printf %0100d 0; sleep 5', { maxBuffer: 10 }));
    assert.equal(error.code, 'ENOBUFS');
    assert.ok(error.stdout.length >= 10);
    assert.equal(cp.execSync('printf %0100d 0', { maxBuffer: Infinity }).length, 100);
  }],
  ['execsync: input is the command\'s stdin', async (cp) => {
    assert.equal(cp.execSync('cat', { input: 'fed', encoding: 'utf8' }), 'fed');
  }],
  ['execsync: stderr goes to the parent\'s stderr by default', async (cp, { source }) => {
    const out = runScript(source, `const value = cp.execSync('echo to-err >&2; echo to-out'); process.stdout.write('[' + value + ']');`);
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, '[to-out\n]');
    assert.equal(out.stderr, 'to-err\n');
  }],
  ['execsync: the shell option', async (cp) => {
    assert.equal(cp.execSync('echo $0', { shell: '/bin/sh', encoding: 'utf8' }), '/bin/sh\n');
  }],
];
