# Metadata operations run inside the sandbox; one line per operation: OK or the errno's name.
# argv[1]: JSON list of [op, args...].
import errno
import json
import os
import sys
import threading


def name(error):
    return errno.errorcode.get(error.errno, str(error.errno))


def race(link, outside, inside, rounds):
    # One thread swaps `link` between a symlink to the outside file and a plain file of the
    # workspace; the other chmods `link` all the while. The outside file must never change.
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
    for _ in range(rounds):
        for call in (lambda: os.chmod(link, 0o777), lambda: os.utime(link, (0, 0)),
                     lambda: os.setxattr(link, "user.codex", b"raced")):
            try:
                call()
                answers.add("OK")
            except OSError as e:
                answers.add(name(e))
    stop.set()
    swapper.join()
    # Both must have happened: the inside file changed, the outside one was refused.
    return ",".join(sorted(answers))


def run(op, args):
    if op == "chmod":
        os.chmod(args[0], int(args[1], 8))
    elif op == "lchmod_nofollow":
        os.chmod(args[0], int(args[1], 8), follow_symlinks=False)
    elif op == "chown":
        os.chown(args[0], int(args[1]), int(args[2]))
    elif op == "lchown":
        os.chown(args[0], int(args[1]), int(args[2]), follow_symlinks=False)
    elif op == "setxattr":
        os.setxattr(args[0], args[1], b"1")
    elif op == "removexattr":
        os.removexattr(args[0], args[1])
    elif op == "utime":
        os.utime(args[0], (0, 0))
    elif op == "utime_now":
        os.utime(args[0])
    elif op == "fchmod_ro":
        fd = os.open(args[0], os.O_RDONLY)
        try:
            os.fchmod(fd, int(args[1], 8))
        finally:
            os.close(fd)
    elif op == "futime_ro":
        fd = os.open(args[0], os.O_RDONLY)
        try:
            os.utime(fd, (0, 0))
        finally:
            os.close(fd)
    elif op == "fsetxattr_ro":
        fd = os.open(args[0], os.O_RDONLY)
        try:
            os.setxattr(fd, args[1], b"1")
        finally:
            os.close(fd)
    elif op == "chmod_at_dirfd":
        # fchmodat relative to a directory descriptor of the caller's.
        dirfd = os.open(args[0], os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.chmod(args[1], int(args[2], 8), dir_fd=dirfd)
        finally:
            os.close(dirfd)
    elif op == "race":
        return race(args[0], args[1], args[2], int(args[3]))
    else:
        raise SystemExit("unknown op " + op)
    return "OK"


for operation in json.loads(sys.argv[1]):
    try:
        print(run(operation[0], operation[1:]), flush=True)
    except OSError as e:
        print(name(e), flush=True)
