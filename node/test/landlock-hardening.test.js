'use strict';
// Issue 11's process, IPC and terminal items through Node, on the landlock pipeline, on this host
// (user namespaces available: the sandbox gets PID and IPC namespaces of its own) and on a
// simulated host without them (Docker's default seccomp profile: clone/unshare with
// CLONE_NEWUSER refused, clone3 ENOSYS, installed by a small launcher before `node` starts, as in
// metadata.test.js; there the sandbox's init is a subreaper and seccomp guards the process calls).
// Every item is judged on the host: no process of the run alive after its 'exit' and its orphan's
// marker never written; a victim of the same uid alive with its limits and nice value; a System V
// segment's content unchanged; another pty's typed input still unread. nobody.test.js reruns this
// file as uid 65534.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { tempDir, NO_USER_NAMESPACES } = require('./helpers.js');

const ROOT = path.resolve(__dirname, '../..');
// Not a PATH lookup: root's python3 may be a pyenv shim under /root, which 65534 cannot enter.
const PYTHON = '/usr/bin/python3';
const WAIT_MS = 30_000;

// The host's Node (plain, or under the launcher): one sandboxed run on the landlock pipeline.
// For the orphan item it also looks at the host's /proc the moment 'exit' comes (processes whose
// command line holds the run's tag) and whether the marker exists 1.5 s later.
const HOST = `
const fs = require('fs');
const path = require('path');
const sandbox = require(${JSON.stringify(ROOT)});
const { ws, argv, tag, marker } = JSON.parse(process.argv[1]);
const special = (kind, access) => ({ path: { type: 'special', value: { kind } }, access });
const policy = { type: 'managed', network: 'restricted',
  file_system: { type: 'restricted', entries: [special('root', 'read'), { path: { type: 'path', path: ws }, access: 'write' }] } };
// No protected name can be kept without a mount namespace: the test's writable root opts out.
const options = { policy, policyCwd: ws, cwd: ws, pipeline: 'landlock', unprotect: ['.git', '.agents', '.codex', '.aws'] };
const plan = sandbox.explain(argv[0], argv.slice(1), options);
function tagged() {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    let cmdline = '';
    try { cmdline = fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1'); } catch { continue; }
    if (cmdline.split('\\0').includes(tag)) found.push(Number(pid));
  }
  return found;
}
const child = sandbox.spawn(argv[0], argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
const out = { stdout: '', stderr: '' };
child.stdout.on('data', (d) => { out.stdout += d; });
child.stderr.on('data', (d) => { out.stderr += d; });
const report = { metadata: plan.metadata, pipeline: plan.pipeline };
const guard = setTimeout(() => { report.hung = true; child.kill('SIGKILL'); }, ${WAIT_MS});
child.on('exit', (code, signal) => {
  Object.assign(report, { code, signal });
  if (tag) report.aliveAtExit = tagged();
  setTimeout(() => {
    if (marker) report.markerLater = fs.existsSync(marker);
    clearTimeout(guard);
    Object.assign(report, out);
    process.stdout.write(JSON.stringify(report));
    process.exit(0);
  }, 1500);
});
`;

const HOSTS = [
  { name: 'with user namespaces', prefix: [] },
  { name: 'without user namespaces (simulated)', prefix: [PYTHON, '-c', NO_USER_NAMESPACES] },
];

function skipReason() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  if (!['x64', 'arm64'].includes(process.arch)) return `no simulated host for ${process.arch}`;
  for (const tool of ['/usr/bin/prlimit', '/usr/bin/renice']) if (!fs.existsSync(tool)) return `${tool} is missing`;
  return null;
}

function skipIfNeeded(t) {
  const reason = skipReason();
  if (!reason) return false;
  if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(reason);
  t.skip(reason);
  return true;
}

/** Runs `argv` sandboxed by a Node on `host`; the host script's report. */
function sandboxedOn(host, ws, argv, extra = {}) {
  const hostArgs = [...host.prefix, process.execPath, '-e', HOST, JSON.stringify({ ws, argv, ...extra })];
  const result = spawnSync(hostArgs[0], hostArgs.slice(1), { encoding: 'utf8', timeout: WAIT_MS + 10_000 });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  const report = JSON.parse(result.stdout);
  assert.equal(report.pipeline, 'landlock', JSON.stringify(report));
  assert.ok(!report.hung, `the run did not end within ${WAIT_MS} ms: ${JSON.stringify(report)}`);
  // The simulation took: without user namespaces the metadata guard is the supervisor, with
  // them the read-only view.
  const guard = host.prefix.length ? 'supervisor' : 'read-only-view';
  assert.equal(report.metadata.kind, guard, JSON.stringify(report.metadata));
  return report;
}

function workspace() {
  const ws = path.join(fs.realpathSync(tempDir('codex-sandbox-hardening-')), 'ws');
  fs.mkdirSync(ws, { mode: 0o755 });
  return ws;
}

/** Field 19 (nice) of /proc/<pid>/stat, counted after the parenthesised command name. */
function niceOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16];
}

/** Resolves with the first line `child` prints, rejects after `ms` or if it ends first. */
function firstLine(child, ms) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no line within ${ms} ms`)), ms);
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ended (${code}) before printing a line`));
    });
  });
}

// The orphan: a shell in the background (tagged by its $0) that writes the marker a second later.
const ORPHAN_SCRIPT = 'sh -c \'sleep 1; touch "$1"\' "$0" "$1" & echo $!';

test('control: unsandboxed, the same orphan outlives its parent and writes its marker', async (t) => {
  if (skipIfNeeded(t)) return;
  const ws = workspace();
  const marker = path.join(ws, 'orphan-marker');
  const result = spawnSync('/bin/sh', ['-c', ORPHAN_SCRIPT, `codex-orphan-control-${process.pid}`, marker], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: WAIT_MS,
  });
  assert.equal(result.status, 0);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.ok(fs.existsSync(marker), 'the control orphan never wrote its marker: the probe would prove nothing');
});

for (const host of HOSTS) {
  test(`landlock ${host.name}: no process of the run is alive after its 'exit'`, (t) => {
    if (skipIfNeeded(t)) return;
    const ws = workspace();
    const marker = path.join(ws, 'orphan-marker');
    const tag = `codex-orphan-${process.pid}-${host.prefix.length}`;
    const report = sandboxedOn(host, ws, ['/bin/sh', '-c', ORPHAN_SCRIPT, tag, marker], { tag, marker });
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^[0-9]+\n$/, 'the command printed its orphan pid');
    assert.deepEqual(report.aliveAtExit, [], `processes of the run alive at 'exit': ${report.aliveAtExit}`);
    assert.equal(report.markerLater, false, 'the orphan wrote its marker after the run ended');
    assert.ok(!fs.existsSync(marker), 'the marker exists on the host');
    // Without a PID namespace the printed pid is a host pid: gone, or reused by something untagged.
    if (host.prefix.length) {
      const pid = Number(report.stdout.trim());
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      } catch (error) {
        assert.equal(error.code, 'ENOENT');
      }
      assert.ok(!cmdline.split('\0').includes(tag), `orphan ${pid} is alive`);
    }
    for (const name of ['.codex', '.git']) assert.ok(!fs.existsSync(path.join(ws, name)), `${name} left in the workspace`);
  });

  test(`landlock ${host.name}: a host process of the same uid keeps its limits and nice value, and lives`, async (t) => {
    if (skipIfNeeded(t)) return;
    const ws = workspace();
    const victim = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve, reject) => {
        victim.once('spawn', resolve);
        victim.once('error', reject);
      });
      const pid = victim.pid;
      const [limits, nice] = [fs.readFileSync(`/proc/${pid}/limits`, 'utf8'), niceOf(pid)];
      const script = [
        '/usr/bin/prlimit --pid "$1" --cpu=1:1; echo "prlimit=$?"',
        '/usr/bin/renice -n 10 -p "$1"; echo "renice=$?"',
        'kill -TERM "$1"; echo "kill=$?"',
      ].join('\n');
      const report = sandboxedOn(host, ws, ['/bin/sh', '-c', script, 'probe', String(pid)]);
      assert.equal(report.code, 0, report.stderr);
      const answers = Object.fromEntries(report.stdout.trim().split('\n').map((line) => line.split('=')));
      for (const call of ['prlimit', 'renice', 'kill']) assert.notEqual(answers[call], '0', `${call} succeeded inside: ${report.stdout}`);
      // The seccomp filter lets prlimit64 and setpriority name only the caller (EPERM) on both
      // host kinds. In the sandbox's own PID namespace the host pid does not exist (ESRCH: renice
      // already fails in its getpriority, kill in kill); without one, setpriority meets the
      // filter and the signal Landlock's scoping (EPERM).
      const lines = report.stderr.trim().split('\n');
      const unseen = host.prefix.length ? /Operation not permitted/ : /No such process/;
      assert.match(lines.find((l) => l.startsWith('prlimit')) ?? '', /Operation not permitted/, report.stderr);
      assert.match(lines.find((l) => l.startsWith('renice')) ?? '', unseen, report.stderr);
      assert.match(lines.find((l) => /kill/.test(l)) ?? '', unseen, report.stderr);
      t.diagnostic(report.stderr.trim().replace(/\n/g, ' | '));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(victim.exitCode, null, 'the victim exited');
      assert.equal(victim.signalCode, null, `the victim was killed by ${victim.signalCode}`);
      assert.equal(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'), limits, "the victim's limits changed");
      assert.equal(niceOf(pid), nice, "the victim's nice value changed");
    } finally {
      victim.kill('SIGKILL');
    }
  });

  test(`landlock ${host.name}: a host System V segment cannot be reached and stays unchanged`, (t) => {
    if (skipIfNeeded(t)) return;
    const ws = workspace();
    const key = 0x0c0e0000 | (process.pid & 0xffff) | (host.prefix.length << 15);
    // A world-writable segment with known content, left behind by its creator (removed below).
    const SHM = String.raw`
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
op, key = sys.argv[1], int(sys.argv[2])
if op == "create":
    sid = libc.shmget(key, 4096, 0o1000 | 0o2000 | 0o666)
    if sid < 0: sys.exit("shmget: errno %d" % ctypes.get_errno())
    addr = libc.shmat(sid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value): sys.exit("shmat: errno %d" % ctypes.get_errno())
    ctypes.memmove(addr, b"host-original", 13)
    print(sid)
else:
    sid = int(sys.argv[3])
    addr = libc.shmat(sid, None, 0o10000)
    if addr in (None, ctypes.c_void_p(-1).value): sys.exit("shmat: errno %d" % ctypes.get_errno())
    print(ctypes.string_at(addr, 13).decode("latin1"))
`;
    const created = spawnSync(PYTHON, ['-c', SHM, 'create', String(key)], { encoding: 'utf8', timeout: WAIT_MS });
    if (created.status !== 0) {
      const reason = `cannot create a System V segment: ${created.stderr.trim()}`;
      if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(reason);
      return t.skip(reason);
    }
    const id = created.stdout.trim();
    try {
      // Inside: find it by key, attach it by id, and if either works, read and overwrite it.
      const PROBE = String.raw`
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
key, sid = int(sys.argv[1]), int(sys.argv[2])
name = lambda: errno.errorcode.get(ctypes.get_errno(), "?")
print("shmget=" + ("OK" if libc.shmget(key, 0, 0) >= 0 else name()))
addr = libc.shmat(sid, None, 0)
if addr in (None, ctypes.c_void_p(-1).value):
    print("shmat=" + name())
else:
    print("shmat=OK " + ctypes.string_at(addr, 13).decode("latin1"))
    ctypes.memmove(addr, b"escaped!", 8)
`;
      const report = sandboxedOn(host, ws, [PYTHON, '-c', PROBE, String(key), id]);
      assert.equal(report.code, 0, report.stderr);
      // Refused by the seccomp filter on both host kinds (with an IPC namespace the segment
      // would not exist there either).
      assert.deepEqual(report.stdout.trim().split('\n'), ['shmget=EPERM', 'shmat=EPERM']);
      const now = spawnSync(PYTHON, ['-c', SHM, 'read', String(key), id], { encoding: 'utf8', timeout: WAIT_MS });
      assert.equal(now.status, 0, now.stderr);
      assert.equal(now.stdout.trim(), 'host-original', 'the host segment changed');
    } finally {
      spawnSync('/usr/bin/ipcrm', ['-m', id], { timeout: WAIT_MS });
    }
  });

  test(`landlock ${host.name}: another terminal of the same user cannot be opened, its input stays unread`, async (t) => {
    if (skipIfNeeded(t)) return;
    const ws = workspace();
    // Another session's terminal: a pty pair held by a host process, with a typed line waiting.
    // On a line on stdin it prints how many bytes are still pending on the terminal, then ends.
    const HOLDER = String.raw`
import fcntl, os, signal, struct, sys, termios
signal.alarm(60)
master, slave = os.openpty()
os.write(master, b"codex-typed-secret\n")
print(os.ttyname(slave), flush=True)
sys.stdin.readline()
print(struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0], flush=True)
`;
    const holder = spawn(PYTHON, ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      let tty;
      try {
        tty = await firstLine(holder, WAIT_MS);
      } catch (error) {
        const reason = `no pty pair on this host: ${error.message}`;
        if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(reason);
        return t.skip(reason);
      }
      assert.match(tty, /^\/dev\/pts\/[0-9]+$/);
      const PROBE = String.raw`
import errno, os, sys
for flags in (os.O_RDONLY, os.O_RDWR):
    try:
        fd = os.open(sys.argv[1], flags | os.O_NONBLOCK | os.O_NOCTTY)
        print("OK " + repr(os.read(fd, 64)))
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
`;
      const report = sandboxedOn(host, ws, [PYTHON, '-c', PROBE, tty]);
      assert.equal(report.code, 0, report.stderr);
      // Landlock grants only the harmless devices and the command's own terminal (stdio here is
      // pipes, so none).
      assert.deepEqual(report.stdout.trim().split('\n'), ['EACCES', 'EACCES']);
      const pending = new Promise((resolve, reject) => {
        let text = '';
        holder.stdout.removeAllListeners('data');
        holder.stdout.on('data', (chunk) => {
          text += chunk;
        });
        holder.once('exit', (code) => (code === 0 ? resolve(text.trim()) : reject(new Error(`holder ended ${code}`))));
      });
      holder.stdin.end('check\n');
      assert.equal(await pending, String('codex-typed-secret\n'.length), "the terminal's typed input was consumed");
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    }
  });
}
