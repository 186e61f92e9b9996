# Inside the sandbox: connect attempts for the connect-broker tests, one word per operation
# (OK, or the errno's name). Operations (argv, in order):
#   unix PATH            blocking connect of a unix stream socket, then send "reached"
#   unix-nb PATH         the same on a non-blocking socket (Python's timeout mode)
#   abstract NAME        an abstract name
#   dgram                socket(AF_UNIX, SOCK_DGRAM)
#   tcp PORT             blocking TCP connect to 127.0.0.1:PORT, then send "reached"
#   tcp-nb PORT          non-blocking: connect must say EINPROGRESS, then complete (OK)
#   listen-abstract NAME a unix stream socket bound to an abstract name, then listen
#   listen-tcp           a TCP socket bound to 127.0.0.1:0, then listen
#   listen-autobound PATH
#                        a unix seqpacket socket with SO_PASSCRED connected to PATH (a stream
#                        listener: EPROTOTYPE, after the kernel has bound it to an abstract
#                        name), then listen; OK:listening or OK:idle (SO_ACCEPTCONN) on success
#   race GRANTED OTHER PORT N
#                        N connects of descriptor number 100 while a second thread keeps
#                        replacing what number 100 is (a fresh unix socket, or a TCP socket
#                        when PORT is not 0) and rewriting the address (GRANTED, OTHER, or
#                        127.0.0.1:PORT); prints "RACE" and how often each result came back
import ctypes, errno, os, select, socket, struct, sys, threading, time


def name(code):
    return errno.errorcode.get(code, str(code))


def word(f):
    try:
        result = f()
        return result if isinstance(result, str) else "OK"
    except OSError as e:
        return name(e.errno)


def unix(path, blocking=True):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        if not blocking:
            s.settimeout(5)
        s.connect(path)
        s.sendall(b"reached")


def tcp(port):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=None) as s:
        s.sendall(b"reached")


def tcp_nonblocking(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setblocking(False)
        code = s.connect_ex(("127.0.0.1", int(port)))
        if code != errno.EINPROGRESS:
            return "IMMEDIATE-" + name(code)
        select.select([], [s], [], 5)
        code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            return name(code)
        s.sendall(b"reached")
        return "OK"


def race(granted, other, port, count):
    libc = ctypes.CDLL(None, use_errno=True)
    port = int(port)

    def sun(path):
        return struct.pack("=H", socket.AF_UNIX) + path.encode() + b"\0"

    addresses = [sun(granted), sun(other)]
    if port:
        addresses.append(struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + bytes([127, 0, 0, 1]) + bytes(8))
    buf = ctypes.create_string_buffer(110)
    number = 100
    stop = threading.Event()

    def fresh():
        if port and int(time.monotonic() * 1e6) % 2:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def racer():
        i = 0
        while not stop.is_set():
            address = addresses[i % len(addresses)]
            ctypes.memmove(buf, address, len(address))
            s = fresh()
            try:
                os.dup2(s.fileno(), number)
            finally:
                s.close()
            i += 1

    ctypes.memmove(buf, addresses[0], len(addresses[0]))
    thread = threading.Thread(target=racer)
    thread.start()
    results = {}
    deadline = time.monotonic() + 20
    try:
        for _ in range(int(count)):
            if time.monotonic() > deadline:
                break
            s = fresh()
            os.dup2(s.fileno(), number)
            s.close()
            ret = libc.connect(number, buf, 110)
            key = "OK" if ret == 0 else name(ctypes.get_errno())
            results[key] = results.get(key, 0) + 1
            # Let the racer run between connects too (a direct connect is shorter than
            # Python's switch interval).
            time.sleep(0)
    finally:
        stop.set()
        thread.join()
    return "RACE " + ",".join(f"{k}={v}" for k, v in sorted(results.items()))


args = sys.argv[1:]
words = []
while args:
    op = args.pop(0)
    if op == "unix":
        path = args.pop(0)
        words.append(word(lambda: unix(path)))
    elif op == "unix-nb":
        path = args.pop(0)
        words.append(word(lambda: unix(path, blocking=False)))
    elif op == "abstract":
        label = args.pop(0)
        words.append(word(lambda: unix("\0" + label)))
    elif op == "dgram":
        words.append(word(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()))
    elif op == "tcp":
        port = args.pop(0)
        words.append(word(lambda: tcp(port)))
    elif op == "tcp-nb":
        port = args.pop(0)
        words.append(word(lambda: tcp_nonblocking(port)))
    elif op == "listen-abstract":
        label = args.pop(0)

        def listen_abstract():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind("\0" + label)
                s.listen(1)

        words.append(word(listen_abstract))
    elif op == "listen-tcp":

        def listen_tcp():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                s.listen(1)

        words.append(word(listen_tcp))
    elif op == "listen-autobound":
        path = args.pop(0)

        def listen_autobound():
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
                try:
                    s.connect(path)
                except OSError as e:
                    if e.errno != errno.EPROTOTYPE:
                        raise
                if not s.getsockname().startswith(b"\0"):
                    return "NOT-AUTOBOUND"
                s.listen(1)
                return "OK:listening" if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) else "OK:idle"

        words.append(word(listen_autobound))
    elif op == "race":
        granted, other, port, count = args[:4]
        del args[:4]
        words.append(race(granted, other, port, count))
    else:
        raise SystemExit(f"unknown operation {op}")
print(" ".join(words), flush=True)
