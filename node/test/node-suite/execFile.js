'use strict';
// Node's tests of execFile() (test/parallel/test-child-process-execfile*), as what each asserts.
const util = require('node:util');
const os = require('node:os');
const { assert, tempDir, NODE } = require('./common.js');

const dir = tempDir('codex-suite-execfile-');
const run = (cp, ...args) => new Promise((resolve) => {
  cp.execFile(...args, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
});

module.exports = [
  ['execfile: exit status as error.code, error.cmd', async (cp) => {
    const { error } = await run(cp, NODE, ['-e', 'process.exit(42)']);
    assert.equal(error.code, 42);
    assert.equal(error.cmd, `${NODE} -e process.exit(42)`);
    assert.equal(error.killed, false);
    assert.match(error.message, /^Command failed: /);
  }],
  ['execfile: ENOENT for a missing file', async (cp) => {
    const { error } = await run(cp, 'codex-suite-no-such-command', ['x']);
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.errno, -os.constants.errno.ENOENT);
    assert.equal(error.syscall, 'spawn codex-suite-no-such-command');
    assert.equal(error.path, 'codex-suite-no-such-command');
    assert.deepEqual(error.spawnargs, ['x']);
  }],
  ['execfile: AbortSignal ends it with AbortError', async (cp) => {
    const controller = new AbortController();
    const pending = run(cp, 'sleep', ['10'], { signal: controller.signal });
    controller.abort();
    const { error } = await pending;
    assert.equal(error.name, 'AbortError');
    const already = await run(cp, 'sleep', ['10'], { signal: AbortSignal.abort() });
    assert.equal(already.error.name, 'AbortError');
  }],
  ['execfile-timeout-kill-signal: killSignal after timeout', async (cp) => {
    const { error } = await run(cp, 'sleep', ['10'], { timeout: 50, killSignal: 'SIGKILL' });
    assert.equal(error.killed, true);
    assert.equal(error.signal, 'SIGKILL');
  }],
  ['execfile-maxbuf: maxBuffer counted per stream, Infinity unlimited', async (cp) => {
    const { error, stdout } = await run(cp, NODE, ['-e', 'console.log("x".repeat(100))'], { maxBuffer: 1 });
    assert.equal(error.code, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    assert.equal(stdout, 'x');
    const big = await run(cp, NODE, ['-e', 'console.log("x".repeat(2 * 1024 * 1024))'], { maxBuffer: Infinity });
    assert.equal(big.error, null);
    assert.equal(big.stdout.length, 2 * 1024 * 1024 + 1);
  }],
  ['execFile-promisified: resolves { stdout, stderr }', async (cp) => {
    assert.deepEqual(await util.promisify(cp.execFile)(NODE, ['-p', '42']), { stdout: '42\n', stderr: '' });
  }],
  ['execfile: args null or absent still take the options', async (cp) => {
    assert.equal((await run(cp, 'pwd', null, { cwd: dir })).stdout, `${dir}\n`);
    assert.equal((await run(cp, 'pwd', { cwd: dir })).stdout, `${dir}\n`);
  }],
  ['execfile: no shell, arguments are not split or expanded', async (cp) => {
    assert.equal((await run(cp, 'echo', ['$HOME a  b'])).stdout, '$HOME a  b\n');
  }],
  ['execfile: encoding buffer', async (cp) => {
    const { stdout, stderr } = await run(cp, 'printf', ['ab'], { encoding: 'buffer' });
    assert.ok(Buffer.isBuffer(stdout) && Buffer.isBuffer(stderr));
    assert.equal(stdout.toString(), 'ab');
  }],
];
