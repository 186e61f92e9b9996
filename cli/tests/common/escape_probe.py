# The sandbox side of the escape suite (cli/tests/escape.rs). argv[1] is a JSON list of
# operations, each a list [name, arg, ...]; one line is printed per operation: "OK", an errno
# name (EPERM, EACCES, ...), or "NAME=value" for operations that report something. Every
# operation runs in a forked process of its own, so one that succeeds (a new namespace, a
# changed credential) cannot change the ones after it. The host side decides what an answer
# means, from its own evidence (file contents, a listener, a victim process).
import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {}  # filled from argv[2]: system-call numbers of this architecture, from the Rust side


class Refused(Exception):
    def __init__(self, code):
        self.code = code


def check(result):
    if result < 0:
        raise Refused(ctypes.get_errno())
    return result


def sys_call(name, *args):
    return check(libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args]))


def cbuf(data):
    buf = ctypes.create_string_buffer(data, len(data))
    KEEP.append(buf)
    return ctypes.addressof(buf)


def cstr(text):
    return cbuf(text.encode() + b"\0")


KEEP = []


def write(path, text="written by the sandbox\n"):
    with open(path, "w") as f:
        f.write(text)


def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def makedirs_write(path, text="planted by the sandbox\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, text)


def link_then_write(source, link):
    os.link(source, link)
    write(link)


def symlink_then_write(target, link):
    os.symlink(target, link)
    write(link)


def rename_then_plant(directory, aside, planted):
    os.rename(directory, aside)
    makedirs_write(planted)


def replace_with_symlink(path, target):
    aside = path + ".aside"
    os.rename(path, aside)
    os.symlink(target, path)


def mount(source, target, fstype, flags):
    check(libc.mount(source.encode() if source else None, target.encode(),
                     fstype.encode() if fstype else None, ctypes.c_ulong(flags), None))


MS_REMOUNT, MS_BIND, MS_RDONLY = 32, 4096, 1


def unshare_bind_write(source, target, victim):
    sys_call("unshare", 0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS
    mount(source, target, None, MS_BIND)
    write(victim)


def umount_then_write(target, victim):
    check(libc.umount2(target.encode(), 2))  # MNT_DETACH
    write(victim)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    sys_call("setns", fd, 0)


def chroot_escape(directory):
    os.chroot(directory)


def status_field(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return field + "=" + line.split()[1]
    return field + "=missing"


def run_euid(path):
    out = subprocess.run([path, "-u"], capture_output=True, text=True, timeout=10)
    return "EUID=" + out.stdout.strip()


def ptrace_attach(pid):
    sys_call("ptrace", 16, int(pid), 0, 0)  # PTRACE_ATTACH


def open_rw(path):
    os.close(os.open(path, os.O_RDWR))


def open_write(path):
    os.close(os.open(path, os.O_WRONLY))


def read_contains(path, needle):
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    return "FOUND" if needle.encode() in data else "NOTFOUND"


def process_vm_readv(pid):
    local = ctypes.create_string_buffer(16)
    iov = struct.pack("<QQ", ctypes.addressof(local), 16)
    remote = struct.pack("<QQ", 0x10000, 16)
    sys_call("process_vm_readv", int(pid), cbuf(iov), 1, cbuf(remote), 1, 0)


def pidfd_getfd(pid, target_fd):
    pidfd = sys_call("pidfd_open", int(pid), 0)
    sys_call("pidfd_getfd", pidfd, int(target_fd), 0)


def kill(pid, sig):
    os.kill(int(pid), int(sig))


def killpg(pgid, sig):
    os.killpg(int(pgid), int(sig))


def prlimit_nofile(pid, soft):
    import resource
    hard = resource.prlimit(int(pid), resource.RLIMIT_NOFILE)[1]
    resource.prlimit(int(pid), resource.RLIMIT_NOFILE, (int(soft), hard))


def setpriority(pid, nice):
    os.setpriority(os.PRIO_PROCESS, int(pid), int(nice))


def setaffinity(pid, cpu):
    os.sched_setaffinity(int(pid), {int(cpu)})


def ioctl_terminal(fd, request):
    fcntl.ioctl(int(fd), int(request), b"\x06" + b"\0" * 63)  # TIOCL_GETSHIFTSTATE


def fd_write(fd):
    os.write(int(fd), b"escaped through an inherited descriptor\n")


def open_fds():
    found = [str(fd) for fd in range(3, 1024) if fd_open(fd)]
    return "FDS=" + (",".join(found) or "none")


def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def new_socket(family, kind, proto=0):
    socket.socket(int(family), int(kind), int(proto)).close()


def tcp_connect(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((host, int(port)))
        s.sendall(b"escaped")


def udp_send(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(b"escaped", (host, int(port)))


def unix_connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(path)
        s.sendall(b"escaped")


def abstract_connect(name):
    unix_connect("\0" + name)


def socketpairs():
    # Stream and seqpacket pairs carry data; a datagram pair is refused (it could be
    # addressed to a named socket).
    answers = []
    for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET, socket.SOCK_DGRAM):
        try:
            a, b = socket.socketpair(socket.AF_UNIX, kind)
            a.send(b"x")
            answers.append("OK" if b.recv(1) == b"x" else "NO-DATA")
            a.close()
            b.close()
        except OSError as e:
            answers.append(errno_name(e.errno))
    return "PAIRS=" + ",".join(answers)


def socketpair_connect(path, kind, close_peer):
    # A socketpair end, its peer open or closed, connected again to a host socket.
    a, b = socket.socketpair(socket.AF_UNIX, int(kind))
    if close_peer == "1":
        b.close()
    a.settimeout(3)
    a.connect(path)
    a.sendall(b"escaped")


def socketpair_sendto(path):
    # An addressed send on a stream socketpair end.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.sendto(b"escaped", path)


def unix_dgram_send(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"escaped", path)


def unix_connect_race(granted, other, count):
    # Connects of descriptor number 100 while a second thread keeps replacing what the number
    # is (a fresh stream or seqpacket unix socket) and rewriting the address between a granted
    # socket and one that is not: the connect broker must never reach the one not granted.
    import threading

    def sun(path):
        return struct.pack("=H", socket.AF_UNIX) + path.encode() + b"\0"

    addresses = [sun(granted), sun(other)]
    buf = ctypes.create_string_buffer(110)
    kinds = [socket.SOCK_SEQPACKET, socket.SOCK_STREAM]
    stop = threading.Event()

    def replace(i):
        # Non-blocking: a full backlog answers EAGAIN instead of waiting for an accept.
        s = socket.socket(socket.AF_UNIX, kinds[i % 2] | socket.SOCK_NONBLOCK)
        os.dup2(s.fileno(), 100)
        s.close()

    def racer():
        i = 0
        while not stop.is_set():
            address = addresses[i % 2]
            ctypes.memmove(buf, address, len(address))
            replace(i // 2)
            i += 1

    ctypes.memmove(buf, addresses[0], len(addresses[0]))
    thread = threading.Thread(target=racer)
    thread.start()
    results = {}
    deadline = time.monotonic() + 15
    try:
        for i in range(int(count)):
            if time.monotonic() > deadline:
                break
            replace(i)
            ret = libc.connect(100, buf, 110)
            key = "OK" if ret == 0 else errno_name(ctypes.get_errno())
            results[key] = results.get(key, 0) + 1
            time.sleep(0)  # let the racer run between connects too
    finally:
        stop.set()
        thread.join()
    return "RACE=" + ",".join(f"{k}:{v}" for k, v in sorted(results.items()))


def abstract_listen(name):
    # A listener on an abstract name a host client might connect to (expecting its server).
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind("\0" + name)
        s.listen(1)


def own_connect_listener():
    # A second seccomp filter of the command's own that hands connect to a listener of its
    # own (which could answer CONTINUE past the broker's check): refused by the sandbox's
    # filter (EPERM).
    SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER = 1, 1 << 3
    USER_NOTIF, ALLOW = 0x7FC00000, 0x7FFF0000
    # ld [nr]; jeq connect ? notif : allow
    insns = [(0x20, 0, 0, 0), (0x15, 0, 1, NR["connect"]), (0x06, 0, 0, USER_NOTIF), (0x06, 0, 0, ALLOW)]
    prog = b"".join(struct.pack("=HBBI", *i) for i in insns)
    code = ctypes.create_string_buffer(prog)
    fprog = ctypes.create_string_buffer(struct.pack("=HxxxxxxQ", len(insns), ctypes.addressof(code)))
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    fd = sys_call("seccomp", SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, ctypes.addressof(fprog))
    os.close(fd)


def io_uring_setup():
    params = ctypes.create_string_buffer(120)
    os.close(sys_call("io_uring_setup", 4, ctypes.addressof(params)))


def keyring_read(description):
    key = sys_call("keyctl", 10, -3, cstr("user"), cstr(description), 0)  # KEYCTL_SEARCH session
    buf = ctypes.create_string_buffer(256)
    n = sys_call("keyctl", 11, key, ctypes.addressof(buf), 256)  # KEYCTL_READ
    return "READ=" + buf.raw[:n].decode(errors="replace")


def keyring_add():
    sys_call("add_key", cstr("user"), cstr("codex-sandbox-planted"), cstr("x"), 1, -3)


def perf_open(pid):
    # struct perf_event_attr: type PERF_TYPE_SOFTWARE (1), size 128, config CPU_CLOCK (0).
    attr = struct.pack("<IIQ", 1, 128, 0) + b"\0" * 112
    os.close(sys_call("perf_event_open", cbuf(attr), int(pid), -1, -1, 0))


def userfaultfd():
    os.close(sys_call("userfaultfd", os.O_CLOEXEC | 1))  # UFFD_USER_MODE_ONLY


def bpf_map_create():
    attr = struct.pack("<IIII", 2, 4, 4, 1) + b"\0" * 112  # BPF_MAP_TYPE_ARRAY
    os.close(sys_call("bpf", 0, cbuf(attr), len(attr)))


def write_same(path):
    with open(path) as f:
        current = f.read()
    with open(path, "w") as f:
        f.write(current)


def sethostname_same():
    name = socket.gethostname().encode()
    check(libc.sethostname(name, len(name)))


def open_by_handle(path):
    handle = ctypes.create_string_buffer(8 + 128)
    struct.pack_into("<I", handle, 0, 128)
    mount_id = ctypes.c_int()
    check(libc.name_to_handle_at(-100, path.encode(), handle, ctypes.byref(mount_id), 0))
    mount_fd = os.open("/", os.O_RDONLY)
    os.close(check(libc.open_by_handle_at(mount_fd, handle, os.O_RDONLY)))


def init_module():
    sys_call("init_module", 0, 0, cstr(""))


def clone3_into_cgroup(cgroup_dir):
    cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    args = struct.pack("<11Q", 0x200000000, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, cgroup_fd)
    pid = sys_call("clone3", cbuf(args), len(args))
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def shm_write(key, text):
    libc.shmat.restype = ctypes.c_void_p
    shmid = check(libc.shmget(int(key), 0, 0))
    address = libc.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise Refused(ctypes.get_errno())
    ctypes.memmove(address, text.encode(), len(text))


def orphan(tag):
    # A double-forked process that outlives the command unless the sandbox kills it.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # Nothing of the run's: no pipe of ours keeps a reader of the run waiting.
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            os.execv("/bin/sleep", ["/bin/sleep", tag])
        os._exit(0)
    time.sleep(0.2)


def orphan_later(directory):
    # A double-forked process that, once the command has exited (the end of RUN_ALIVE: every
    # writer gone) and half a second more, creates `.codex` (its placeholder is gone by then)
    # and `.git` in the policy cwd and a marker beside them, unless the sandbox ended it with
    # the run. Waiting for the end rather than a fixed time keeps a long batch from making its
    # writes, legitimate during the run, look like writes after it.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, RUN_ALIVE[0])
            os.closerange(RUN_ALIVE[0] + 1, 65536)
            os.read(RUN_ALIVE[0], 1)
            time.sleep(0.5)
            for name in (".codex", ".git"):
                try:
                    os.mkdir(os.path.join(directory, name))
                except OSError:
                    pass
            with open(os.path.join(directory, "orphan-marker"), "w") as marker:
                marker.write("written after the run")
            os._exit(0)
        os._exit(0)
    time.sleep(0.1)


def pty_read(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    readable, _, _ = select.select([fd], [], [], 1)
    data = os.read(fd, 256) if readable else b""
    return "READ=" + data.decode(errors="replace").strip()


def nproc_budget():
    with open("/proc/self/limits") as f:
        for line in f:
            if line.startswith("Max processes"):
                return "NPROC=" + line.split()[2]
    return "NPROC=missing"


def pids_cgroup():
    # The run's own pids cgroup, where the launcher made one (v1 `pids` line or the v2 line).
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "pids" in controllers.split(",") or controllers == "":
                if os.path.basename(path).startswith("codex-sandbox-"):
                    return "CGROUP=own"
    return "CGROUP=none"


def fork_until_refused(most):
    pids, refused = [], "none"
    for _ in range(int(most)):
        try:
            pid = os.fork()
        except OSError as e:
            refused = errno.errorcode[e.errno]
            break
        if pid == 0:
            time.sleep(10)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return "FORKED=%d %s" % (len(pids), refused)


def mknod_null(path):
    os.mknod(path, 0o666 | 0o020000, os.makedev(1, 3))


def setuid_root():
    os.setuid(0)


def flock_hold(path, seconds):
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("LOCKED", flush=True)
    time.sleep(float(seconds))


def on_read_only_fd(path, call):
    fd = os.open(path, os.O_RDONLY)
    try:
        call(fd)
    finally:
        os.close(fd)


def metadata_race(link, outside, rounds):
    # One thread swaps `link` between a symlink to the outside file and a plain file of the
    # workspace while this one chmods, utimes and setxattrs `link`: the answers seen, sorted.
    import threading
    stop = threading.Event()
    tmp_link, tmp_file = link + ".l", link + ".f"

    def swap():
        while not stop.is_set():
            try:
                os.symlink(outside, tmp_link)
                os.rename(tmp_link, link)
                with open(tmp_file, "w"):
                    pass
                os.rename(tmp_file, link)
            except OSError:
                pass
            for leftover in (tmp_link, tmp_file):
                try:
                    os.unlink(leftover)
                except OSError:
                    pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    answers = set()
    # At least `rounds` rounds, then on until both objects were hit (an OK and a refusal),
    # for at most 10 seconds.
    deadline = time.monotonic() + 10
    done = 0
    while done < int(rounds) or (len(answers - {"ENOENT"}) < 2 and time.monotonic() < deadline):
        done += 1
        for call in (lambda: os.chmod(link, 0o777), lambda: os.utime(link, (0, 0)),
                     lambda: os.setxattr(link, "user.codex-escape", b"raced")):
            try:
                call()
                answers.add("OK")
            except OSError as e:
                answers.add(errno_name(e.errno))
        if done % 50 == 0:
            time.sleep(0.001)  # let the swapper run even where the scheduler favours this thread
    stop.set()
    swapper.join()
    return "SEEN=" + ",".join(sorted(answers))


def create_mode(path, mode):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, int(mode, 8)))


def openat2_create(path, mode):
    # struct open_how { u64 flags; u64 mode; u64 resolve; }
    how = cbuf(struct.pack("<QQQ", os.O_CREAT | os.O_WRONLY, int(mode, 8), 0))
    fd = check(libc.syscall(ctypes.c_long(NR["openat2"]), ctypes.c_long(-100), ctypes.c_char_p(path.encode()),
                            ctypes.c_long(how), ctypes.c_size_t(24)))
    os.close(fd)


def set_file_capability(path):
    # struct vfs_cap_data, revision 2, effective, CAP_SETUID permitted.
    os.setxattr(path, "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 7, 0, 0, 0))


OPS = {
    "write": write,
    "pids_cgroup": pids_cgroup,
    "fork_until_refused": fork_until_refused,
    "create": create,
    "append": lambda path: open(path, "a").write("appended by the sandbox\n"),
    "truncate": lambda path: os.truncate(path, 0),
    "unlink": os.unlink,
    "rmdir": os.rmdir,
    "rename": os.rename,
    "mkdir": os.mkdir,
    "makedirs_write": makedirs_write,
    "link_then_write": link_then_write,
    "symlink_then_write": symlink_then_write,
    "rename_then_plant": rename_then_plant,
    "replace_with_symlink": replace_with_symlink,
    "chmod": lambda path, mode: os.chmod(path, int(mode, 8)),
    "chown": lambda path, uid, gid: os.chown(path, int(uid), int(gid)),
    "utime": lambda path: os.utime(path, (0, 0)),
    "setxattr": lambda path, name: os.setxattr(path, name, b"sandbox"),
    "mknod_null": mknod_null,
    "mount_tmpfs": lambda target: mount("none", target, "tmpfs", 0),
    "remount_rw": lambda target: mount(None, target, None, MS_REMOUNT | MS_BIND),
    "unshare_bind_write": unshare_bind_write,
    "umount_then_write": umount_then_write,
    "setns": setns,
    "chroot": chroot_escape,
    "status": status_field,
    "run_euid": run_euid,
    "setuid_root": setuid_root,
    "ptrace_attach": ptrace_attach,
    "open_rw": open_rw,
    "open_write": open_write,
    "read_contains": read_contains,
    "process_vm_readv": process_vm_readv,
    "pidfd_getfd": pidfd_getfd,
    "kill": kill,
    "killpg": killpg,
    "prlimit_nofile": prlimit_nofile,
    "setpriority": setpriority,
    "setaffinity": setaffinity,
    "ioctl_terminal": ioctl_terminal,
    "fd_write": fd_write,
    "open_fds": open_fds,
    "socket": new_socket,
    "tcp_connect": tcp_connect,
    "udp_send": udp_send,
    "unix_connect": unix_connect,
    "unix_connect_race": unix_connect_race,
    "own_connect_listener": own_connect_listener,
    "abstract_listen": abstract_listen,
    "abstract_connect": abstract_connect,
    "unix_dgram_send": unix_dgram_send,
    "socketpairs": socketpairs,
    "socketpair_connect": socketpair_connect,
    "socketpair_sendto": socketpair_sendto,
    "io_uring_setup": io_uring_setup,
    "keyring_read": keyring_read,
    "keyring_add": keyring_add,
    "perf_open": perf_open,
    "userfaultfd": userfaultfd,
    "bpf_map_create": bpf_map_create,
    "write_same": write_same,
    "sethostname_same": sethostname_same,
    "open_by_handle": open_by_handle,
    "init_module": init_module,
    "clone3_into_cgroup": clone3_into_cgroup,
    "shm_write": shm_write,
    "orphan": orphan,
    "orphan_later": orphan_later,
    "pty_read": pty_read,
    "nproc_budget": nproc_budget,
    "flock_hold": flock_hold,
    "readlink": lambda path: "LINK=" + os.readlink(path),
    "fchmod_ro": lambda path, mode: on_read_only_fd(path, lambda fd: os.fchmod(fd, int(mode, 8))),
    "futime_ro": lambda path: on_read_only_fd(path, lambda fd: os.utime(fd, (0, 0))),
    "fsetxattr_ro": lambda path, name: on_read_only_fd(path, lambda fd: os.setxattr(fd, name, b"sandbox")),
    "metadata_race": metadata_race,
    "create_mode": create_mode,
    "mknod_mode": lambda path, mode: os.mknod(path, int(mode, 8)),
    "openat2_create": openat2_create,
    "set_file_capability": set_file_capability,
}


def errno_name(code):
    return errno.errorcode.get(code, str(code))


def perform(op):
    name, *args = op
    try:
        answer = OPS[name](*args)
        return answer if isinstance(answer, str) else "OK"
    except Refused as e:
        return errno_name(e.code)
    except OSError as e:
        return errno_name(e.errno) if e.errno else "OSERROR " + str(e)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"


def in_child(op):
    if op[0] == "flock_hold":  # streams its answer; run in this process
        return perform(op)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            answer = perform(op)
        except BaseException as e:  # never let the child go on with the rest of the list
            answer = "ERROR " + repr(e)
        os.write(write_end, answer.replace("\n", " ").encode())
        os._exit(0)
    os.close(write_end)
    answer = b""
    while chunk := os.read(read_end, 4096):
        answer += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    return answer.decode(errors="replace") or "NO-ANSWER"


NR.update(json.loads(sys.argv[2]))
# Open for writing in this process (and the operations forked from it) only: its end of file
# tells an orphan that the command has exited.
RUN_ALIVE = os.pipe()
for op in json.loads(sys.argv[1]):
    print(in_child(op), flush=True)
