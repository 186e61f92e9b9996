# Runs filesystem and socket operations inside the sandbox and prints one line per operation:
# "OK" or the errno name (EACCES, EROFS, EPERM, ...). Each argument is "op:arg:arg".
import errno
import os
import socket
import sys


def write(path):
    with open(path, "w") as f:
        f.write("written by the sandbox\n")


def append(path):
    with open(path, "a") as f:
        f.write("appended by the sandbox\n")


def open_for_writing(path):
    # Opens without writing: probes write access to files whose contents must not change.
    os.close(os.open(path, os.O_WRONLY))


def read(path):
    with open(path) as f:
        f.read()


def connect(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect((host, int(port)))
        s.sendall(b"escaped")


def udp_send(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"escaped", (host, int(port)))


def new_socket(family, kind="SOCK_STREAM"):
    socket.socket(getattr(socket, family), getattr(socket, kind)).close()


def socketpair_roundtrip():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.send(b"ping")
    if b.recv(4) != b"ping":
        raise OSError(errno.EIO, "bad data")
    b.sendmsg([b"pong"])
    if a.recvmsg(4)[0] != b"pong":
        raise OSError(errno.EIO, "bad data")
    a.close()
    b.close()


def unix_connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)


OPS = {
    "write": write,
    "append": append,
    "read": read,
    "open_write": open_for_writing,
    "mkdir": os.mkdir,
    "rmdir": os.rmdir,
    "unlink": os.unlink,
    "rename": os.rename,
    "symlink": os.symlink,
    "truncate": lambda path: os.truncate(path, 0),
    "connect": connect,
    "connect6": lambda port: connect("::1", port),
    "udp": udp_send,
    "socket": new_socket,
    "socketpair": socketpair_roundtrip,
    "unix_connect": unix_connect,
    "listdir": os.listdir,
}

for spec in sys.argv[1:]:
    op, *args = spec.split(":")
    try:
        OPS[op](*args)
        print("OK", flush=True)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), flush=True)
