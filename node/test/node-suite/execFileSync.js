'use strict';
// Node's tests of execFileSync() (test/parallel/test-child-process-execfilesync*,
// test-child-process-execsync), as what each asserts.
const { assert, caught, tempDir, NODE } = require('./common.js');

const dir = tempDir('codex-suite-execfilesync-');

module.exports = [
  ['execfilesync: stdout returned', async (cp) => {
    assert.equal(cp.execFileSync(NODE, ['-p', '6 * 7']).toString(), '42\n');
    assert.equal(cp.execFileSync('echo', ['a b'], { encoding: 'utf8' }), 'a b\n');
  }],
  ['execfilesync: a failing command throws with status', async (cp) => {
    const error = caught(() => cp.execFileSync(NODE, ['-e', 'process.stderr.write("bad"); process.exit(5)'], { stdio: 'pipe' }));
    assert.equal(error.status, 5);
    assert.equal(error.stderr.toString(), 'bad');
    assert.match(error.message, /^Command failed: /);
  }],
  ['execfilesync: ENOENT throws', async (cp) => {
    const error = caught(() => cp.execFileSync('codex-suite-no-such-command'));
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.syscall, 'spawnSync codex-suite-no-such-command');
  }],
  ['execfilesync-maxbuf: ENOBUFS', async (cp) => {
    const error = caught(() => cp.execFileSync(NODE, ['-e', 'process.stdout.write("x".repeat(100)); setTimeout(() => {}, 5000)'], { maxBuffer: 10 }));
    assert.equal(error.code, 'ENOBUFS');
  }],
  ['execfilesync: timeout with killSignal', async (cp) => {
    const error = caught(() => cp.execFileSync('sleep', ['10'], { timeout: 50, killSignal: 'SIGKILL' }));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.equal(error.signal, 'SIGKILL');
  }],
  ['execfilesync: args null, options taken', async (cp) => {
    assert.equal(cp.execFileSync('pwd', null, { cwd: dir, encoding: 'utf8' }), `${dir}\n`);
    assert.equal(cp.execFileSync('pwd', { cwd: dir, encoding: 'utf8' }), `${dir}\n`);
  }],
];
