# Makes raw system calls and prints one line per call: "OK" (the call returned >= 0) or the
# errno name. Each argument is "nr:arg:arg:..." with the system-call number first (the Rust
# side passes libc's numbers, so this script knows no architecture). An argument is an integer
# (decimal or 0x hex, may be negative), or one of:
#   @devnull      a descriptor open on /dev/null
#   @buf          a pointer to 4096 zero bytes
#   @clone3       a pointer to a struct clone_args asking for a plain fork (exit signal SIGCHLD)
#   @s=TEXT       a pointer to the NUL-terminated string TEXT
#   @ns=NAME      a descriptor open on /proc/self/ns/NAME
#   @ppid         the pid of this script's process (the parent of the forked caller): another
#                 process of the same uid
# A call whose number is prefixed with "fork-" (clone, clone3) creates a process: the child
# exits at once and the parent reaps it. Every call runs in a forked process of its own, so a
# call that succeeds (unshare, a keyring change) changes nothing for the calls after it.
# "thread" starts and joins a Python thread and "spawn" runs /bin/true (libc's thread and
# process creation, which try clone3 first and fall back to clone).
import ctypes
import errno
import os
import signal
import struct
import subprocess
import sys
import threading

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
keep = []


def argument(text):
    if text == "@devnull":
        return os.open("/dev/null", os.O_RDWR)
    if text == "@buf":
        buf = ctypes.create_string_buffer(4096)
        keep.append(buf)
        return ctypes.addressof(buf)
    if text == "@clone3":
        # struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
        # stack_size, tls, set_tid, set_tid_size, cgroup (11 u64, 88 bytes).
        buf = ctypes.create_string_buffer(struct.pack("<11Q", 0, 0, 0, 0, signal.SIGCHLD, *[0] * 6), 88)
        keep.append(buf)
        return ctypes.addressof(buf)
    if text.startswith("@s="):
        buf = ctypes.create_string_buffer(text[3:].encode())
        keep.append(buf)
        return ctypes.addressof(buf)
    if text == "@ppid":
        return os.getppid()
    if text.startswith("@ns="):
        return os.open("/proc/self/ns/" + text[4:], os.O_RDONLY)
    return int(text, 0)


def raw_call(spec):
    forks = spec.startswith("fork-")
    nr, *args = spec.removeprefix("fork-").split(":")
    args = [ctypes.c_long(argument(a)) for a in args]
    result = libc.syscall(ctypes.c_long(int(nr)), *args)
    if result < 0:
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    if forks:
        if result == 0:
            os._exit(0)
        os.waitpid(result, 0)
    return "OK"


def in_child(spec):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            answer = raw_call(spec)
        except Exception as e:  # report, never let the child run the rest of the script
            answer = "ERROR " + repr(e)
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    answer = b""
    while chunk := os.read(read_end, 256):
        answer += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    return answer.decode() or "NO-ANSWER"


def thread():
    done = []
    t = threading.Thread(target=lambda: done.append(1))
    t.start()
    t.join()
    return "OK" if done else "NOT-RUN"


def spawn():
    return "OK" if subprocess.run(["/bin/true"]).returncode == 0 else "FAILED"


for spec in sys.argv[1:]:
    try:
        answer = {"thread": thread, "spawn": spawn}.get(spec, lambda: in_child(spec))()
    except OSError as e:
        answer = errno.errorcode.get(e.errno, str(e.errno))
    print(answer, flush=True)
