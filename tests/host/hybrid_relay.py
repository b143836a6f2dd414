#!/usr/bin/env python3
"""A test double of Firecracker's (and Cloud Hypervisor's) host side of
vsock: a Unix socket where a client writes `CONNECT <port>\\n`, gets
`OK <hostport>\\n` and then talks to the guest's listener on that port --
here, to the agent's Unix sockets.

    hybrid_relay.py LISTEN_PATH PORT=TARGET_PATH [PORT=TARGET_PATH...]
        [--bind-delay S]   create LISTEN_PATH only after S seconds (a VMM starting)
        [--ready-delay S]  for S seconds refuse every port (a guest booting)
        [--answer TEXT]    answer TEXT instead of OK (a VMM that says no)

Like Firecracker, a port nobody listens on gets its connection closed
right after CONNECT, and the client's EOF ends the whole connection: the
guest side gets a full shutdown, never a half-close, so a client that
relies on half-closing loses the rest of the output here as it would there.
Prints "ready" on stdout once LISTEN_PATH accepts connections.
"""
import argparse
import os
import socket
import sys
import threading
import time


def read_line(conn, limit=64):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        b = conn.recv(1)
        if not b:
            return None
        buf += b
    return buf


def pump(src, dst, done):
    """Copies src to dst; the first side to end ends both (Firecracker's
    shutdown(RCV|SEND) of the guest socket on host EOF)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        if not done.is_set():
            done.set()
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def serve(conn, targets, ready_at, answer, counter):
    with conn:
        line = read_line(conn)
        if not line or not line.startswith(b"CONNECT "):
            return
        try:
            port = int(line[8:].strip())
        except ValueError:
            return
        if answer is not None:
            conn.sendall(answer.encode() + b"\n")
            return
        target = targets.get(port)
        if target is None or time.monotonic() < ready_at:
            return  # the guest refused: the VMM closes the connection
        guest = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            guest.connect(target)
        except OSError:
            guest.close()
            return
        counter[0] += 1
        conn.sendall(b"OK %d\n" % (1073741824 + counter[0]))
        done = threading.Event()
        back = threading.Thread(target=pump, args=(guest, conn, done), daemon=True)
        back.start()
        pump(conn, guest, done)
        back.join()
        guest.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen")
    ap.add_argument("map", nargs="*", help="PORT=TARGET_PATH")
    ap.add_argument("--bind-delay", type=float, default=0)
    ap.add_argument("--ready-delay", type=float, default=0)
    ap.add_argument("--answer")
    args = ap.parse_intermixed_args()
    targets = {}
    for m in args.map:
        port, path = m.split("=", 1)
        targets[int(port)] = path
    time.sleep(args.bind_delay)
    ready_at = time.monotonic() + args.ready_delay
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.listen)
    srv.listen(64)
    print("ready", flush=True)
    counter = [0]
    try:
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, targets, ready_at, args.answer, counter),
                             daemon=True).start()
    finally:
        os.unlink(args.listen)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
