'use strict';
// The landlock pipeline through Node on a host without user namespaces (simulated as Docker's
// default seccomp profile does it: clone/unshare with CLONE_NEWUSER refused, clone3 ENOSYS,
// installed by a small launcher before `node` starts): metadata calls go to the sandbox's init,
// which performs them only inside the writable roots. And on a host whose filter already has a
// seccomp listener (a container runtime's agent): the plan says refused-everywhere and the run
// goes ahead with every metadata call refused. Asserted on the host: the outside file's mode,
// owner, xattrs and mtime unchanged; `chmod +x` inside done (or, refused everywhere, not).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = '/usr/bin/python3';
const HOST_LISTENER_FD = 200;

// Installs the simulated host's filter (with a listener kept open at HOST_LISTENER_FD when
// argv[1] is "listener"), then execs argv[2:].
const LAUNCHER = String.raw`
import ctypes, os, platform, struct, sys
clone, unshare, seccomp = {"x86_64": (56, 272, 317), "aarch64": (220, 97, 277)}[platform.machine()]
def ins(code, jt, jf, k): return struct.pack("<HBBI", code, jt, jf, k)
LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06
program = b"".join([
    ins(LD, 0, 0, 0),
    ins(JEQ, 2, 0, clone),
    ins(JEQ, 1, 0, unshare),
    ins(JEQ, 4, 5, 435),
    ins(LD, 0, 0, 16),
    ins(AND, 0, 0, 0x10000000),
    ins(JEQ, 2, 0, 0),
    ins(RET, 0, 0, 0x00050000 | 1),
    ins(RET, 0, 0, 0x00050000 | 38),
    ins(RET, 0, 0, 0x7fff0000),
])
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
prog = Fprog(len(program) // 8, program)
if libc.prctl(38, 1, 0, 0, 0) != 0:
    sys.exit("no_new_privs: errno %d" % ctypes.get_errno())
if sys.argv[1] == "listener":
    fd = libc.syscall(ctypes.c_long(seccomp), ctypes.c_long(1), ctypes.c_long(8), ctypes.byref(prog))
    if fd < 0:
        sys.exit("seccomp listener: errno %d" % ctypes.get_errno())
    os.dup2(fd, ${HOST_LISTENER_FD})
elif libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
    sys.exit("seccomp: errno %d" % ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
`;

// Inside the sandbox: one line per [op, path, arg]: OK or the errno's name.
const PROBE = String.raw`
import errno, json, os, sys
for op, p, arg in json.loads(sys.argv[1]):
    try:
        if op == "chmod": os.chmod(p, int(arg, 8))
        elif op == "chown": os.chown(p, int(arg), -1)
        elif op == "utime": os.utime(p, (0, 0))
        elif op == "setxattr": os.setxattr(p, arg, b"1")
        print("OK")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
`;

// In the simulated host's Node: the plan's metadata guard, then the probe's answers.
const HOST = `
const sandbox = require(${JSON.stringify(ROOT)});
const [ws, ops] = [process.argv[1], process.argv[2]];
const special = (kind, access) => ({ path: { type: 'special', value: { kind } }, access });
const policy = { type: 'managed', network: 'restricted',
  file_system: { type: 'restricted', entries: [special('root', 'read'), { path: { type: 'path', path: ws }, access: 'write' }] } };
const options = { policy, policyCwd: require('path').dirname(ws), cwd: require('path').dirname(ws), pipeline: 'landlock',
  // No protected name can be kept without a mount namespace: the test's writable root opts out.
  unprotect: ['.git', '.agents', '.codex', '.aws'] };
const metadata = sandbox.explain(${JSON.stringify(PYTHON)}, [], options).metadata;
sandbox.run(${JSON.stringify(PYTHON)}, ['-c', ${JSON.stringify(PROBE)}, ops], options).then((result) => {
  process.stdout.write(JSON.stringify({ metadata, code: result.code, answers: result.stdout.trim().split('\\n'), stderr: result.stderr }));
});
`;

/** Mode, owner, mtime and xattr names of `file`, as the host sees them. */
function evidence(file) {
  const script = 'import os,sys,json; s=os.lstat(sys.argv[1]); print(json.dumps([s.st_mode, s.st_uid, s.st_gid, s.st_mtime_ns, sorted(os.listxattr(sys.argv[1]))]))';
  const result = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

function onSimulatedHost(kind, ws, ops) {
  const result = spawnSync(PYTHON, ['-c', LAUNCHER, kind, process.execPath, '-e', HOST, ws, JSON.stringify(ops)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

function scratch() {
  const dir = fs.realpathSync(tempDir('codex-sandbox-metadata-'));
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  fs.mkdirSync(path.join(dir, 'outside'));
  const outside = path.join(dir, 'outside', 'victim.txt');
  const inside = path.join(ws, 'script.sh');
  for (const file of [outside, inside]) {
    fs.writeFileSync(file, '#!/bin/sh\n');
    fs.chmodSync(file, 0o644);
  }
  return { ws, outside, inside };
}

function skipReason() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  if (!['x64', 'arm64'].includes(process.arch)) return `no simulated host for ${process.arch}`;
  return null;
}

test('landlock without user namespaces: metadata changes only inside the writable roots (supervisor)', (t) => {
  const reason = skipReason();
  if (reason) {
    if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(reason);
    return t.skip(reason);
  }
  const { ws, outside, inside } = scratch();
  const before = evidence(outside);
  const uid = String(process.getuid() === 0 ? 1234 : 0);
  const ops = [
    ['chmod', inside, '755'],
    ['utime', inside, ''],
    ['setxattr', inside, 'user.codex'],
    ['chmod', inside, '4755'],
    ['chmod', outside, '4777'],
    ['chown', outside, uid],
    ['utime', outside, ''],
    ['setxattr', outside, 'user.codex'],
  ];
  const report = onSimulatedHost('plain', ws, ops);
  assert.equal(report.metadata.kind, 'supervisor', JSON.stringify(report.metadata));
  assert.equal(report.code, 0, report.stderr);
  assert.deepEqual(report.answers, ['OK', 'OK', 'OK', 'EPERM', 'EPERM', 'EPERM', 'EPERM', 'EPERM']);
  assert.equal(evidence(outside), before, 'the outside file changed');
  const st = fs.statSync(inside);
  assert.equal(st.mode & 0o7777, 0o755, 'chmod +x inside');
  assert.equal(st.mtimeMs, 0, 'utime inside');
  assert.ok(JSON.parse(evidence(inside))[4].includes('user.codex'), 'xattr inside');
});

test('a host filter with a seccomp listener: metadata refused everywhere, and the run goes ahead', (t) => {
  const reason = skipReason();
  if (reason) {
    if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(reason);
    return t.skip(reason);
  }
  const { ws, outside, inside } = scratch();
  const [before, insideBefore] = [evidence(outside), evidence(inside)];
  const report = onSimulatedHost('listener', ws, [
    ['chmod', inside, '755'],
    ['chmod', outside, '4777'],
    ['utime', outside, ''],
  ]);
  assert.equal(report.metadata.kind, 'refused-everywhere', JSON.stringify(report.metadata));
  assert.match(report.metadata.reason, /NEW_LISTENER.*os error 16/);
  assert.equal(report.code, 0, report.stderr);
  assert.deepEqual(report.answers, ['EPERM', 'EPERM', 'EPERM']);
  assert.equal(evidence(outside), before, 'the outside file changed');
  assert.equal(evidence(inside), insideBefore, 'the inside file changed');
});
