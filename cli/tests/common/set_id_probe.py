# Calls that would leave a set-uid or set-gid file (or file capabilities) in the workspace, run
# inside the sandbox; one line per operation: OK, the errno's name, or n/a (no such call on
# this architecture). argv[1]: JSON list of [op, path, octal mode].
import ctypes
import errno
import json
import os
import platform
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100
# x86_64's legacy calls, which aarch64 does not have.
X86_64 = {"open": 2, "creat": 85, "chmod": 90, "mknod": 133}
SYS_OPENAT2 = 437


def name(error):
    return errno.errorcode.get(error, str(error))


def raw(number, *args):
    result = libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        raise OSError(ctypes.get_errno(), "syscall %d" % number)
    return result


def file_capability():
    # struct vfs_cap_data, revision 2, effective: CAP_SETUID permitted.
    return struct.pack("<IIIII", 0x02000000 | 1, 1 << 7, 0, 0, 0)


def run(op, path, mode):
    p = path.encode()
    if op == "open":
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode))
    elif op == "tmpfile":
        fd = os.open(path, os.O_TMPFILE | os.O_WRONLY, mode)
        try:
            os.link("/proc/self/fd/%d" % fd, os.path.join(path, "linked-tmpfile"))
        finally:
            os.close(fd)
    elif op == "mknod":
        os.mknod(path, mode)
    elif op == "chmod":
        os.chmod(path, mode)
    elif op == "fchmod":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    elif op == "openat2":
        # struct open_how { u64 flags; u64 mode; u64 resolve; }
        how = struct.pack("<QQQ", os.O_CREAT | os.O_WRONLY, mode, 0)
        buf = ctypes.create_string_buffer(how, len(how))
        os.close(raw(SYS_OPENAT2, AT_FDCWD, ctypes.c_char_p(p), buf, ctypes.c_size_t(len(how))))
    elif op == "setcap":
        os.setxattr(path, "security.capability", file_capability())
    elif op.startswith("raw_"):
        call = op[4:]
        if platform.machine() != "x86_64":
            return "n/a"
        if call == "open":
            os.close(raw(X86_64["open"], ctypes.c_char_p(p), os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode))
        elif call == "creat":
            os.close(raw(X86_64["creat"], ctypes.c_char_p(p), mode))
        elif call == "mknod":
            raw(X86_64["mknod"], ctypes.c_char_p(p), mode, 0)
        elif call == "chmod":
            raw(X86_64["chmod"], ctypes.c_char_p(p), mode)
        else:
            raise SystemExit("unknown op " + op)
    else:
        raise SystemExit("unknown op " + op)
    return "OK"


for operation, path, mode in json.loads(sys.argv[1]):
    try:
        print(run(operation, path, int(mode, 8)), flush=True)
    except OSError as e:
        print(name(e.errno), flush=True)
