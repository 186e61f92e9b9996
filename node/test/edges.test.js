'use strict';
// Edge cases found in review: start failures, out-of-range numbers, the policy cwd default,
// signals the sandbox's init must forward, children of a terminated Worker.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const sandbox = require('@codex/linux-sandbox');
const { once, tempDir } = require('./helpers.js');

test('a command that cannot start emits error, then close, and no exit', async () => {
  const child = sandbox.spawn('/nonexistent-command-for-the-test');
  const events = [];
  child.on('exit', () => events.push('exit'));
  child.on('error', (error) => events.push(`error:${error.code}`));
  const [code, signal] = await new Promise((resolve) => child.on('close', (...args) => resolve(args)));
  assert.deepEqual(events, ['error:ENOENT']);
  assert.equal(code, -2);
  assert.equal(signal, null);
});

test('numbers outside their range are refused, not truncated', () => {
  assert.throws(() => sandbox.spawn('true', [], { stdio: ['ignore', 2 ** 32 + 2, 'pipe'] }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  assert.throws(() => sandbox.spawn('true', [], { killSignal: 2 ** 32 + 9 }), { code: 'ERR_UNKNOWN_SIGNAL' });
  const child = sandbox.spawn('sleep', ['5'], { stdio: 'ignore' });
  assert.throws(() => child.kill(999), { code: 'ERR_UNKNOWN_SIGNAL' });
  child.kill('SIGKILL');
});

test('the policy cwd does not follow the command cwd', () => {
  const plan = sandbox.explain('true', [], { cwd: '/', policy: 'workspace-write' });
  const roots = plan.filesystem.writable_roots.map((root) => root.path);
  assert.ok(!roots.includes('/'), `choosing cwd made / writable: ${roots}`);
  assert.ok(roots.includes(fs.realpathSync(process.cwd())), `${roots}`);
});

for (const pipeline of ['landlock', 'bwrap']) {
  test(`killSignal SIGALRM reaches the command (${pipeline})`, async (t) => {
    if (pipeline === 'bwrap' && !sandbox.probe().namespaces.available) return t.skip('no user namespaces');
    const started = Date.now();
    const child = sandbox.spawn('sleep', ['30'], { pipeline, timeout: 200, killSignal: 'SIGALRM', stdio: 'ignore' });
    const [code, signal] = await once(child, 'exit');
    assert.equal(code, null);
    assert.equal(signal, 'SIGALRM');
    assert.ok(Date.now() - started < 10_000);
  });
}

test('children of a terminated Worker are killed and reaped', async () => {
  const dir = tempDir();
  const marker = path.join(dir, 'pid');
  const worker = new Worker(
    `const sandbox = require(${JSON.stringify(require.resolve('@codex/linux-sandbox'))});
     const child = sandbox.spawn('sleep', ['30'], { stdio: 'ignore' });
     require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(child.pid));
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8') === '') {
    assert.ok(Date.now() < deadline, 'the worker never spawned');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const pid = Number(fs.readFileSync(marker, 'utf8'));
  await worker.terminate();
  assert.ok(!fs.existsSync(`/proc/${pid}`), `process ${pid} is left (zombie or running)`);
  fs.rmSync(dir, { recursive: true, force: true });
});
