'use strict';
// Shared by the tests; no dependencies beyond Node itself.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const created = [];
// Scratch directories go when the test file's process does, whatever the outcome.
process.on('exit', () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A world-readable scratch directory under the system temp dir, removed at exit. */
function tempDir(prefix = 'codex-sandbox-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  created.push(dir);
  return dir;
}

/** Resolves with [arg0, arg1, ...] of the first `event` emitted, rejects on 'error'. */
function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onError = (error) => {
      emitter.removeListener(event, onEvent);
      reject(error);
    };
    const onEvent = (...args) => {
      if (event !== 'error') emitter.removeListener('error', onError);
      resolve(args);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** A node -e script, run inside the sandbox, that prints one word about what happened. */
const NODE = process.execPath;

/**
 * A Python launcher that makes a host without user namespaces, as Docker's default seccomp
 * profile does (clone/unshare with CLONE_NEWUSER refused with EPERM, clone3 ENOSYS), then
 * execs its arguments: `spawnSync('/usr/bin/python3', ['-c', NO_USER_NAMESPACES, ...argv])`.
 * (x86_64 and aarch64 only.)
 */
const NO_USER_NAMESPACES = String.raw`
import ctypes, os, platform, struct, sys
clone, unshare = {"x86_64": (56, 272), "aarch64": (220, 97)}[platform.machine()]
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
prog = Fprog(len(program) // 8, program)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
    sys.exit("seccomp: errno %d" % ctypes.get_errno())
os.execv(sys.argv[1], sys.argv[1:])
`;

module.exports = { tempDir, once, NODE, NO_USER_NAMESPACES };
