'use strict';
// The optional resource limits through Node: each holds inside the sandbox with the kernel's
// own errno or signal, the wall-clock limit ends the whole tree (no process of the run is left
// on the host, checked by pid) and is reported as `wallTimeExceeded`, bad values are refused
// before anything runs. Both pipelines; as root and (through nobody.test.js) as uid 65534.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir } = require('./helpers.js');

const PIPELINES = sandbox.probe().namespaces.available ? ['bwrap', 'landlock'] : ['landlock'];
const PYTHON = '/usr/bin/python3';
const workspace = () => ({ type: 'workspace-write', writable_roots: [], exclude_tmpdir_env_var: true, exclude_slash_tmp: true });

/** Host pids of processes whose command line holds `marker` as an argument. */
function hostPidsWith(marker) {
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    if (cmdline.split('\0').includes(marker)) pids.push(Number(name));
  }
  return pids;
}

const RLIMIT_PROBE = `
import errno, mmap
files = []
try:
    for _ in range(1000): files.append(open('/dev/null'))
    print('nofile none')
except OSError as e:
    print('nofile', errno.errorcode[e.errno], len(files) < 16)
try:
    mmap.mmap(-1, 512 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    print('mmap OK')
except OSError as e:
    print('mmap', errno.errorcode[e.errno])
`;

for (const pipeline of PIPELINES) {
  test(`${pipeline}: open files, memory, file size and CPU time hold inside`, { timeout: 60_000 }, async () => {
    const dir = tempDir('limits-');
    const base = { pipeline, policy: workspace(dir), policyCwd: dir, cwd: dir };
    const probe = await sandbox.run(PYTHON, ['-c', RLIMIT_PROBE], { ...base, maxOpenFiles: 16, maxMemoryBytes: 256 * 2 ** 20 });
    assert.equal(probe.code, 0, probe.stderr);
    assert.deepEqual(probe.stdout.trim().split('\n'), ['nofile EMFILE True', 'mmap ENOMEM']);

    const grown = await sandbox.run('/bin/sh', ['-c', 'exec head -c 1000000 /dev/zero > grown'], { ...base, maxFileSizeBytes: 4096 });
    assert.equal(grown.signal, 'SIGXFSZ', grown.stderr);
    assert.equal(fs.statSync(path.join(dir, 'grown')).size, 4096);

    const spin = await sandbox.run(PYTHON, ['-c', 'while True: pass'], { ...base, maxCpuSeconds: 1 });
    assert.equal(spin.signal, 'SIGXCPU', spin.stderr);
    assert.equal(spin.wallTimeExceeded, false);
  });

  test(`${pipeline}: the wall-clock limit ends the whole tree and says so`, { timeout: 60_000 }, async () => {
    const dir = tempDir('wall-');
    const marker = `${700 + PIPELINES.indexOf(pipeline)}.${process.pid % 1000}`;
    const script = `sleep ${marker} & setsid sleep ${marker} & sleep ${marker}`;
    const options = { pipeline, policy: 'read-only', policyCwd: dir, cwd: dir, maxWallTimeMs: 1500 };
    const started = Date.now();
    const child = sandbox.spawn('/bin/sh', ['-c', script], options);
    let seen = [];
    for (let i = 0; i < 100 && seen.length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      seen = hostPidsWith(marker);
    }
    assert.equal(seen.length, 3, `the run's processes on the host: ${seen}`);
    const [code, signal] = await new Promise((resolve) => child.on('exit', (...args) => resolve(args)));
    const took = Date.now() - started;
    assert.deepEqual([code, signal, child.wallTimeExceeded], [null, 'SIGKILL', true]);
    assert.ok(took >= 1400 && took < 10_000, `took ${took} ms`);
    for (const pid of seen) assert.ok(!fs.existsSync(`/proc/${pid}`), `pid ${pid} of the run is alive`);

    const ran = await sandbox.run('/bin/sh', ['-c', 'sleep 30'], { ...options, maxWallTimeMs: 300 });
    assert.deepEqual([ran.signal, ran.wallTimeExceeded, ran.timedOut], ['SIGKILL', true, false]);
    const sync = sandbox.spawnSync('/bin/sh', ['-c', 'sleep 30'], { ...options, maxWallTimeMs: 300 });
    assert.deepEqual([sync.signal, sync.wallTimeExceeded], ['SIGKILL', true]);
    const error = await new Promise((resolve) => sandbox.execFile('/bin/sh', ['-c', 'sleep 30'], { ...options, maxWallTimeMs: 300 }, resolve));
    assert.deepEqual([error.signal, error.wallTimeExceeded], ['SIGKILL', true]);
    // Within its limit a run keeps its own status, and nothing is marked.
    const quick = sandbox.spawnSync('/bin/sh', ['-c', 'exit 3'], options);
    assert.deepEqual([quick.status, quick.wallTimeExceeded], [3, undefined]);
  });
}

test('bad limits are refused before anything runs, naming the option', () => {
  for (const [key, bad] of [['maxOpenFiles', 0], ['maxMemoryBytes', -1], ['maxCpuSeconds', 1.5], ['maxWallTimeMs', '10'], ['maxFileSizeBytes', 2 ** 60]]) {
    assert.throws(() => sandbox.spawn('true', [], { [key]: bad }), (error) => error.code === 'ERR_SANDBOX_INVALID_ARGUMENT' && error.message.includes(key), `${key}: ${bad}`);
  }
  // In range for JS, out of range for the kernel: the core names the limit and the value.
  assert.throws(() => sandbox.explain('true', [], { maxOpenFiles: 2 }), (error) => error.code === 'ERR_SANDBOX_INVALID_ARGUMENT' && /max-open-files.*2 is outside/.test(error.message));
  const plan = sandbox.explain('true', [], { maxOpenFiles: 64, maxWallTimeMs: 2500 });
  assert.deepEqual(plan.process.limits.rlimits.map((r) => [r.name, r.soft]), [['RLIMIT_NOFILE', 64]]);
  assert.equal(plan.process.limits.wall_time_ms, 2500);
});
