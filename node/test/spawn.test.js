'use strict';
// ChildProcess-shaped behaviour: streams, exit codes, signals, kill, abort, timeout, run().
const test = require('node:test');
const assert = require('node:assert/strict');
const sandbox = require('@codex/linux-sandbox');
const { once } = require('./helpers.js');

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

test('spawn echo and read stdout; events in ChildProcess order', async () => {
  const child = sandbox.spawn('echo', ['hello', 'sandbox']);
  const events = [];
  child.on('spawn', () => events.push('spawn'));
  child.on('exit', () => events.push('exit'));
  const stdout = collect(child.stdout);
  const [code, signal] = await once(child, 'close');
  assert.equal(await stdout, 'hello sandbox\n');
  assert.equal(code, 0);
  assert.equal(signal, null);
  assert.equal(child.exitCode, 0);
  assert.equal(child.signalCode, null);
  assert.ok(Number.isInteger(child.pid) && child.pid > 0);
  assert.deepEqual(events, ['spawn', 'exit']);
  assert.equal(child.kill(), false, 'kill() after exit reports nothing delivered');
});

test('stdin piped to cat, with more data than a pipe buffer holds', async () => {
  const child = sandbox.spawn('cat');
  const input = 'x'.repeat(1 << 20) + 'end';
  const stdout = collect(child.stdout);
  child.stdin.end(input);
  const [code] = await once(child, 'close');
  assert.equal(code, 0);
  assert.equal(await stdout, input);
});

test('exit codes and signals are the command\'s own', async () => {
  assert.equal((await sandbox.run('sh', ['-c', 'exit 7'])).code, 7);
  const killed = await sandbox.run('sh', ['-c', 'kill -USR1 $$; sleep 5']);
  assert.equal(killed.code, null);
  assert.equal(killed.signal, 'SIGUSR1');
  const stderr = await sandbox.run('sh', ['-c', 'echo oops >&2; exit 1']);
  assert.deepEqual([stderr.code, stderr.stdout, stderr.stderr], [1, '', 'oops\n']);
});

test('kill() delivers the signal', async () => {
  const child = sandbox.spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  assert.equal(child.stdout, null);
  assert.equal(child.kill('SIGINT'), true);
  assert.equal(child.killed, true);
  const [code, signal] = await once(child, 'exit');
  assert.deepEqual([code, signal], [null, 'SIGINT']);
  const child2 = sandbox.spawn('sleep', ['30'], { stdio: 'ignore' });
  child2.kill();
  assert.deepEqual(await once(child2, 'close'), [null, 'SIGTERM']);
});

test('AbortSignal kills the command and emits an AbortError', async () => {
  const controller = new AbortController();
  const child = sandbox.spawn('sleep', ['30'], { signal: controller.signal, stdio: 'ignore' });
  await once(child, 'spawn');
  const errored = new Promise((resolve) => child.on('error', resolve));
  controller.abort();
  const error = await errored;
  assert.equal(error.name, 'AbortError');
  assert.equal(error.code, 'ABORT_ERR');
  const [, signal] = await once(child, 'close');
  assert.equal(signal, 'SIGTERM');

  const controller2 = new AbortController();
  const started = Date.now();
  const promise = sandbox.run('sleep', ['30'], { signal: controller2.signal });
  setTimeout(() => controller2.abort(), 100);
  await assert.rejects(promise, { name: 'AbortError', code: 'ABORT_ERR' });
  assert.ok(Date.now() - started < 5000);

  // As child_process: an already aborted signal still starts the command, then kills it.
  const aborted = sandbox.spawn('sleep', ['30'], { signal: AbortSignal.abort() });
  const [early] = await once(aborted, 'error').catch((e) => [e]);
  assert.equal(early.code, 'ABORT_ERR');
  assert.ok(aborted.pid > 0);
  assert.deepEqual(await once(aborted, 'exit'), [null, 'SIGTERM']);
});

test('timeout sends killSignal', async () => {
  const started = Date.now();
  const result = await sandbox.run('sleep', ['30'], { timeout: 200, killSignal: 'SIGKILL' });
  assert.equal(result.signal, 'SIGKILL');
  assert.equal(result.timedOut, true);
  assert.ok(Date.now() - started < 5000);
});

test('a command that is not found is reported through the error event', async () => {
  // A PATH whose every directory is searchable: a directory the caller may not enter (under
  // /root, for uid 65534) would turn "not found" into EACCES, as with execvp.
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  const child = sandbox.spawn('codex-sandbox-no-such-command', { env });
  const [error] = await once(child, 'error').catch((e) => [e]);
  assert.equal(error.code, 'ENOENT');
  assert.equal(error.errno, -2);
  assert.equal(error.syscall, 'spawn codex-sandbox-no-such-command');
  assert.equal(error.path, 'codex-sandbox-no-such-command');
  assert.equal(child.pid, undefined);
  await assert.rejects(sandbox.run('codex-sandbox-no-such-command', { env }), { code: 'ENOENT' });
  await assert.rejects(sandbox.run('/etc/passwd'), { code: 'EACCES', errno: -13 });
});

test('run(): cwd, env, encoding and maxBuffer', async () => {
  const result = await sandbox.run('sh', ['-c', 'pwd; echo "$GREETING"'], { cwd: '/usr', env: { GREETING: 'hi', PATH: process.env.PATH } });
  assert.equal(result.stdout, '/usr\nhi\n');
  const binary = await sandbox.run('printf', ['\\001\\002'], { encoding: 'buffer' });
  assert.deepEqual(binary.stdout, Buffer.from([1, 2]));
  await assert.rejects(sandbox.run('yes', [], { maxBuffer: 1000 }), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
  // Exactly the environment given, as child_process; Codex's marker only when asked.
  const show = ['-c', 'echo "${CODEX_SANDBOX_NETWORK_DISABLED-unset}"'];
  assert.equal((await sandbox.run('sh', show)).stdout, 'unset\n');
  assert.equal((await sandbox.run('sh', show, { codexMarkers: true })).stdout, '1\n');
  assert.equal((await sandbox.run('sh', show, { codexMarkers: true, policy: 'danger-full-access' })).stdout, 'unset\n');
  assert.throws(() => sandbox.spawn('true', [], { codexMarkers: 'yes' }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT', message: /codexMarkers/ });
});
