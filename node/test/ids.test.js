'use strict';
// Node's `uid`/`gid` options. As root the command runs as the ids asked for, on every pipeline
// (landlock, bwrap, landlock on a host without user namespaces, danger-full-access): `id`
// prints them; files it creates belong to them on the host; a root-owned file stays out of its
// reach (written or chmod'ed: the kernel, or on a host without user namespaces the sandbox's
// init acting for it, answers as the new uid); it cannot switch back and holds no capability;
// each of spawn, spawnSync, exec, execFile, fork runs as them. As any other uid another id is
// libuv's EPERM, with nothing spawned (nobody.test.js reruns this file as uid 65534).
const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir, NO_USER_NAMESPACES } = require('./helpers.js');

const ROOT = path.resolve(__dirname, '../..');
const sandbox = require(ROOT);
const PYTHON = '/usr/bin/python3';
const NOBODY = 65534;
const requireAll = process.env.CODEX_SANDBOX_REQUIRE_ALL === '1';

function skip(t, reason) {
  if (requireAll) assert.fail(reason);
  t.skip(reason);
}

// Inside the sandbox: what the process is, and what it may do, as one JSON line.
const PROBE = String.raw`
import errno, json, os, sys
def attempt(f):
    try:
        f()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def append(p):
    with open(p, "a") as f:
        f.write("x")
ws = sys.argv[1]
made = os.path.join(ws, "made")
secret = os.path.join(ws, "secret")
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
print(json.dumps({
    "resuid": list(os.getresuid()),
    "resgid": list(os.getresgid()),
    "groups": os.getgroups(),
    "create": attempt(lambda: append(made)),
    "chmodOwn": attempt(lambda: os.chmod(made, 0o755)),
    "writeSecret": attempt(lambda: append(secret)),
    "chmodSecret": attempt(lambda: os.chmod(secret, 0o666)),
    "setuid0": attempt(lambda: os.setuid(0)),
    "setgid0": attempt(lambda: os.setgid(0)),
    "setgroups": attempt(lambda: os.setgroups([0])),
    "caps": {k: int(status[k], 16) for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]},
}))
`;

// In a Node of its own (under the simulated host's filter where there is one): every case of
// one configuration, printed as JSON.
const HOST = String.raw`
const sandbox = require(process.argv[1]);
const { promisify } = require('node:util');
const [ws, pipeline, policyName, probe, forked] = process.argv.slice(2);
const special = (kind, access) => ({ path: { type: 'special', value: { kind } }, access });
const policy = policyName === 'danger-full-access' ? 'danger-full-access' : { type: 'managed', network: 'restricted',
  file_system: { type: 'restricted', entries: [special('root', 'read'), { path: { type: 'path', path: ws }, access: 'write' }] } };
const base = { policy, policyCwd: ws, cwd: ws, env: { PATH: '/usr/bin:/bin' },
  ...(pipeline ? { pipeline } : {}),
  // No protected name can be kept without a mount namespace: the test's writable root opts out.
  unprotect: ['.git', '.agents', '.codex', '.aws'] };
const nobody = { uid: ${NOBODY}, gid: ${NOBODY} };
const ID = ['-c', 'echo $(id -u) $(id -g) $(id -G)'];
const sync = (ids, file = '/bin/sh', args = ID) => {
  const r = sandbox.spawnSync(file, args, { ...base, ...ids, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error && r.error.message };
};
(async () => {
  const out = {};
  const plan = sandbox.explain('/bin/true', [], { ...base, ...nobody });
  out.plan = { pipeline: plan.pipeline, metadata: plan.metadata?.kind ?? null, ids: plan.process.ids };
  out.probe = sync(nobody, '/usr/bin/python3', ['-c', probe, ws]);
  out.both = sync(nobody);
  out.uidOnly = sync({ uid: ${NOBODY} });
  out.gidOnly = sync({ gid: ${NOBODY} });
  out.spawn = await new Promise((resolve) => {
    const child = sandbox.spawn('/bin/sh', ID, { ...base, ...nobody });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('close', (status) => resolve({ status, stdout }));
  });
  out.exec = await promisify(sandbox.exec)('id -u; id -g', { ...base, ...nobody }).then((r) => r.stdout, (e) => e.message);
  out.execFile = await promisify(sandbox.execFile)('/usr/bin/id', ['-G'], { ...base, ...nobody }).then((r) => r.stdout, (e) => e.message);
  out.fork = await new Promise((resolve) => {
    const child = sandbox.fork(forked, [], { ...base, ...nobody, execPath: process.execPath });
    child.on('message', (m) => { resolve(m); child.disconnect(); });
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('exit', (code) => resolve({ exit: code }));
  });
  // An installed bwrap cannot switch ids: refused before anything runs.
  try {
    sandbox.spawnSync('/bin/true', [], { ...base, ...nobody, pipeline: 'bwrap', bwrapPath: '/usr/bin/bwrap' });
    out.bwrapPath = 'ran';
  } catch (e) {
    out.bwrapPath = { code: e.code, field: e.field, message: e.message };
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

function workspace() {
  const dir = fs.realpathSync(tempDir('codex-sandbox-ids-'));
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws, { mode: 0o755 });
  fs.chownSync(ws, NOBODY, NOBODY);
  const secret = path.join(ws, 'secret');
  fs.writeFileSync(secret, 'root only\n', { mode: 0o600 });
  const forked = path.join(dir, 'forked.js');
  fs.writeFileSync(forked, "process.send({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() });\n", { mode: 0o644 });
  return { ws, secret, forked };
}

function runConfiguration({ pipeline, policy = 'managed', withoutUserNamespaces = false }) {
  const { ws, secret, forked } = workspace();
  const argv = [process.execPath, '-e', HOST, ROOT, ws, pipeline ?? '', policy, PROBE, forked];
  const result = withoutUserNamespaces
    ? cp.spawnSync(PYTHON, ['-c', NO_USER_NAMESPACES, ...argv], { encoding: 'utf8', timeout: 120_000 })
    : cp.spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  return { out: JSON.parse(result.stdout), ws, secret };
}

function checkConfiguration({ out, ws, secret }, { pipeline, metadataBySupervisor = false }) {
  const sandboxed = pipeline !== 'unsandboxed';
  assert.equal(out.plan.pipeline, pipeline, JSON.stringify(out.plan));
  assert.deepEqual(out.plan.ids, { uid: NOBODY, gid: NOBODY });
  if (metadataBySupervisor) assert.equal(out.plan.metadata, 'supervisor', 'a host without user namespaces');
  const probe = JSON.parse(out.probe.stdout || 'null');
  assert.ok(probe, JSON.stringify(out.probe));
  assert.deepEqual([probe.resuid, probe.resgid, probe.groups], [[NOBODY, NOBODY, NOBODY], [NOBODY, NOBODY, NOBODY], []]);
  assert.equal(probe.create, 'OK');
  // What the host sees: the command's file belongs to the command's ids.
  const made = fs.statSync(path.join(ws, 'made'));
  assert.deepEqual([made.uid, made.gid], [NOBODY, NOBODY]);
  assert.equal(probe.chmodOwn, 'OK', 'chmod of its own file (the supervisor performs it without user namespaces)');
  assert.equal(made.mode & 0o777, 0o755);
  // A root-owned 0600 file in the writable root: not writable, not chmod-able by uid 65534.
  assert.equal(probe.writeSecret, 'EACCES');
  assert.equal(probe.chmodSecret, 'EPERM', metadataBySupervisor ? 'the supervisor acts as the command\'s uid' : 'the kernel refuses');
  const secretStat = fs.statSync(secret);
  assert.deepEqual([secretStat.uid, secretStat.mode & 0o777, fs.readFileSync(secret, 'utf8')], [0, 0o600, 'root only\n']);
  // No way back, no capability.
  assert.deepEqual([probe.setuid0, probe.setgid0, probe.setgroups], ['EPERM', 'EPERM', 'EPERM']);
  assert.deepEqual([probe.caps.CapInh, probe.caps.CapPrm, probe.caps.CapEff, probe.caps.CapAmb], [0, 0, 0, 0]);
  if (sandboxed) assert.equal(probe.caps.CapBnd, 0, 'the bounding set is emptied before the switch');

  assert.deepEqual(out.both, { status: 0, stdout: `${NOBODY} ${NOBODY} ${NOBODY}\n`, stderr: '' });
  // As libuv: the id not asked for stays the caller's (0), the supplementary groups go.
  assert.deepEqual([out.uidOnly.status, out.uidOnly.stdout], [0, `${NOBODY} 0 0\n`], out.uidOnly.stderr);
  assert.deepEqual([out.gidOnly.status, out.gidOnly.stdout], [0, `0 ${NOBODY} ${NOBODY}\n`], out.gidOnly.stderr);
  assert.deepEqual(out.spawn, { status: 0, stdout: `${NOBODY} ${NOBODY} ${NOBODY}\n` });
  assert.equal(out.exec, `${NOBODY}\n${NOBODY}\n`);
  assert.equal(out.execFile, `${NOBODY}\n`);
  assert.deepEqual(out.fork, { uid: NOBODY, gid: NOBODY, groups: [NOBODY] });
  assert.equal(out.bwrapPath.code, 'ERR_SANDBOX_INVALID_ARGUMENT', JSON.stringify(out.bwrapPath));
  assert.match(out.bwrapPath.message, /uid.*installed bwrap/s);
}

const host = sandbox.probe();
const asRoot = process.getuid() === 0;

test('as root: landlock pipeline (with its user namespace) runs the command as uid/gid 65534', (t) => {
  if (!asRoot) return t.skip('switching ids needs root (the EPERM case below runs instead)');
  if (!host.landlock.available) return skip(t, 'Landlock is unavailable here');
  checkConfiguration(runConfiguration({ pipeline: 'landlock' }), { pipeline: 'landlock' });
});

test('as root: bwrap pipeline runs the command as uid/gid 65534', (t) => {
  if (!asRoot) return t.skip('switching ids needs root (the EPERM case below runs instead)');
  if (!host.namespaces.available) return skip(t, 'the bwrap pipeline is unavailable here');
  checkConfiguration(runConfiguration({ pipeline: 'bwrap' }), { pipeline: 'bwrap' });
});

test('as root: landlock without user namespaces runs the command, and its init, as uid/gid 65534', (t) => {
  if (!asRoot) return t.skip('switching ids needs root (the EPERM case below runs instead)');
  if (!host.landlock.available) return skip(t, 'Landlock is unavailable here');
  if (!fs.existsSync(PYTHON) || !['x64', 'arm64'].includes(process.arch)) return skip(t, `no simulated host here (${PYTHON}, ${process.arch})`);
  checkConfiguration(runConfiguration({ pipeline: 'landlock', withoutUserNamespaces: true }), { pipeline: 'landlock', metadataBySupervisor: true });
});

test('as root: danger-full-access runs the command as uid/gid 65534', (t) => {
  if (!asRoot) return t.skip('switching ids needs root (the EPERM case below runs instead)');
  checkConfiguration(runConfiguration({ policy: 'danger-full-access' }), { pipeline: 'unsandboxed' });
});

// A Node that starts a long command as 65534 and prints its pid (the sandbox's init), then
// waits to be killed.
const LAUNCHER_OF_SLEEP = String.raw`
const sandbox = require(process.argv[1]);
const child = sandbox.spawn('/bin/sleep', ['100'], { policy: 'read-only', cwd: '/', pipeline: process.argv[2], uid: ${NOBODY}, gid: ${NOBODY}, stdio: 'ignore' });
child.on('spawn', () => process.stdout.write(child.pid + '\n'));
child.on('error', (e) => { process.stdout.write('error ' + e.message + '\n'); process.exit(1); });
setTimeout(() => {}, 100000);
`;

/** The `Uid:` line of `/proc/<pid>/status`, or null once the process is gone. */
function uidsOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
  } catch {
    return null;
  }
}

for (const pipeline of ['landlock', 'bwrap']) {
  test(`as root: the ${pipeline} sandbox's init runs as 65534 and still dies with its launcher`, async (t) => {
    if (!asRoot) return t.skip('switching ids needs root');
    if (pipeline === 'bwrap' ? !host.namespaces.available : !host.landlock.available) return skip(t, `the ${pipeline} pipeline is unavailable here`);
    const launcher = cp.spawn(process.execPath, ['-e', LAUNCHER_OF_SLEEP, ROOT, pipeline], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise((resolve, reject) => {
      let out = '';
      launcher.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      launcher.on('exit', () => reject(new Error(`the launcher exited: ${out}`)));
    });
    const pid = Number(line);
    assert.ok(pid > 0, line);
    // Ended by the test if the sandbox fails to die: init and the command under it.
    const tree = [pid, ...fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
    try {
      // The credentials changed in init too (the kernel then clears the parent-death signal,
      // which the child arms again).
      assert.deepEqual(uidsOf(pid), [NOBODY, NOBODY, NOBODY, NOBODY]);
    } finally {
      launcher.kill('SIGKILL');
    }
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = uidsOf(pid) === null || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!gone) {
      for (const stray of tree) {
        try {
          process.kill(stray, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    assert.ok(gone, `the sandbox (pid ${pid}) outlived its launcher`);
  });
}

test('as root with supplementary groups: uid/gid, even root\'s own, clear them as with child_process', (t) => {
  if (!asRoot) return t.skip('needs root');
  if (cp.spawnSync('setpriv', ['--version']).status !== 0) return skip(t, 'setpriv is not installed');
  const pipelines = [host.landlock.available && 'landlock', host.namespaces.available && 'bwrap', 'danger-full-access'].filter(Boolean);
  const script = `
    const cp = require('node:child_process');
    const sandbox = require(process.argv[1]);
    const out = {};
    for (const [name, impl, extra] of [['child_process', cp, {}], ...JSON.parse(process.argv[2]).map((p) => [p, sandbox, p === 'danger-full-access' ? { policy: p } : { policy: 'read-only', pipeline: p }])]) {
      out[name] = [{}, { uid: 0 }, { gid: 0 }, { uid: 0, gid: 0 }].map((ids) => impl.spawnSync('/usr/bin/id', ['-G'], { cwd: '/', ...extra, ...ids, encoding: 'utf8' }).stdout);
    }
    process.stdout.write(JSON.stringify(out));`;
  const result = cp.spawnSync('setpriv', ['--groups', '5,6', process.execPath, '-e', script, ROOT, JSON.stringify(pipelines)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const out = JSON.parse(result.stdout);
  assert.deepEqual(out.child_process, ['0 5 6\n', '0\n', '0\n', '0\n'], 'child_process itself');
  // Without uid/gid the groups stay; in a user namespace those it does not map show as the
  // overflow gid (65534), so only the switched cases are compared there.
  assert.deepEqual(out['danger-full-access'], out.child_process, 'danger-full-access');
  for (const pipeline of pipelines) assert.deepEqual(out[pipeline].slice(1), out.child_process.slice(1), pipeline);
});

test('not root: another uid or gid is EPERM as with child_process, and nothing runs', (t) => {
  if (asRoot) return t.skip('runs as uid 65534 (nobody.test.js)');
  const dir = tempDir('codex-sandbox-ids-eperm-');
  const marker = path.join(dir, 'ran');
  const options = (ids) => ({ ...ids, policy: 'workspace-write', cwd: dir, env: { PATH: '/usr/bin:/bin' } });
  for (const ids of [{ uid: 0 }, { gid: 0 }, { uid: process.getuid(), gid: 0 }]) {
    for (const impl of [cp, sandbox]) {
      const name = impl === cp ? 'child_process' : 'sandbox';
      assert.throws(() => impl.spawn('/usr/bin/touch', [marker], options(ids)), { code: 'EPERM', syscall: 'spawn', errno: -1 }, name);
      const r = impl.spawnSync('/usr/bin/touch', [marker], options(ids));
      assert.deepEqual(
        [r.error?.code, r.error?.syscall, r.error?.path, r.error?.spawnargs, r.status, r.pid, r.stdout],
        ['EPERM', 'spawnSync /usr/bin/touch', '/usr/bin/touch', [marker], null, 0, null],
        name,
      );
      assert.throws(() => impl.execFileSync('/usr/bin/touch', [marker], options(ids)), { code: 'EPERM' }, name);
      assert.throws(() => impl.execFile('/usr/bin/touch', [marker], options(ids), () => {}), { code: 'EPERM' }, name);
      assert.throws(() => impl.fork(path.join(dir, 'missing.js'), [], options(ids)), { code: 'EPERM' }, name);
    }
    assert.equal(fs.existsSync(marker), false, 'nothing ran');
  }
  // The caller's own ids are no switch: they run.
  const own = sandbox.spawnSync('/usr/bin/id', ['-u'], { ...options({ uid: process.getuid(), gid: process.getgid() }), encoding: 'utf8' });
  assert.deepEqual([own.status, own.stdout], [0, `${process.getuid()}\n`], own.stderr);
});
