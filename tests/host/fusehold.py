"""A one-directory in-memory FUSE file system, served from the test process,
whose fsyncs can be held: a stalled disk on demand, with no hook in the
agent. While `hold` is set, FSYNC and FSYNCDIR requests get no answer (the
agent's fsync stays blocked in the kernel) until release() answers them.

Mounted inside the agent's mount namespace (nsenter), so the agent sees it
at /io/NAME; the server's own state (files, events) is what tests check.
Speaks the FUSE protocol straight over /dev/fuse (linux/fuse.h, 7.31); only
what a write, read, stat and ls need is served, the rest is ENOSYS."""
import errno
import os
import struct
import subprocess
import threading

# Opcodes (linux/fuse.h).
LOOKUP, FORGET, GETATTR, SETATTR = 1, 2, 3, 4
UNLINK, RENAME, OPEN, READ, WRITE, STATFS, RELEASE = 10, 12, 14, 15, 16, 17, 18
FSYNC, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR = 20, 25, 26, 27, 28, 29, 30
ACCESS, CREATE, INTERRUPT, DESTROY, BATCH_FORGET, RENAME2 = 34, 35, 36, 38, 42, 45
NO_REPLY = (FORGET, BATCH_FORGET, INTERRUPT)
NAMES = {FSYNC: "fsync", FSYNCDIR: "fsyncdir", RENAME: "rename", RENAME2: "rename",
         UNLINK: "unlink", CREATE: "create", WRITE: "write", SETATTR: "setattr"}

IN_HEADER = struct.Struct("<IIQQIIIHH")      # 40 bytes
OUT_HEADER = struct.Struct("<IiQ")           # 16 bytes
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")    # fuse_attr, 88 bytes
FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
ROOT = 1


class Node:
    def __init__(self, mode, uid=0, gid=0):
        self.mode, self.uid, self.gid = mode, uid, gid
        self.data = bytearray()


class HoldFS:
    def __init__(self):
        self.fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        self.nodes = {ROOT: Node(0o040755)}
        self.names = {}           # name -> node id (the one directory)
        self.next_id = 2
        self.lock = threading.Condition()
        self.hold = False
        self.held = []            # unique ids of unanswered fsyncs
        self.events = []          # (what, name) for the calls tests look at

    # -- the mount --
    def mount(self, pid, target):
        """Mounts on target, a path in the mount namespace of pid."""
        opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % self.fd
        code = ("import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); "
                "r=l.mount(b'holdfs',sys.argv[1].encode(),b'fuse',0,sys.argv[2].encode()); "
                "sys.exit(ctypes.get_errno() if r else 0)")
        os.set_inheritable(self.fd, True)
        try:
            subprocess.run(["nsenter", "-t", str(pid), "-m", "python3", "-c", code, target, opts],
                           check=True, pass_fds=(self.fd,))
        finally:
            os.set_inheritable(self.fd, False)
        # The device reads only once mounted. The thread ends, closing the
        # fd, when the mount goes with the agent's namespace.
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    # -- what tests use --
    def file(self, name):
        with self.lock:
            n = self.names.get(name)
            return None if n is None else bytes(self.nodes[n].data)

    def put(self, name, data, mode=0o100644):
        with self.lock:
            node = Node(mode)
            node.data[:] = data
            self.nodes[self.next_id] = node
            self.names[name] = self.next_id
            self.next_id += 1

    def listing(self):
        with self.lock:
            return sorted(self.names)

    def wait_for(self, cond, what, timeout=30):
        with self.lock:
            if not self.lock.wait_for(lambda: cond(self), timeout):
                raise AssertionError("holdfs: never saw %s; events %r" % (what, self.events))

    def release(self, keep_holding=False):
        """Answers every held fsync (success); stops holding unless told."""
        with self.lock:
            self.hold = keep_holding
            held, self.held = self.held, []
        for unique in held:
            self._reply(unique, 0, b"")

    # -- the server --
    def _reply(self, unique, err, body):
        try:
            os.write(self.fd, OUT_HEADER.pack(16 + len(body), -err, unique) + body)
        except OSError:
            pass  # the request was interrupted or the connection is gone

    def _attr(self, nid):
        n = self.nodes[nid]
        size = len(n.data)
        return ATTR.pack(nid, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, n.mode,
                         2 if n.mode & 0o040000 else 1, n.uid, n.gid, 0, 4096, 0)

    def _entry(self, nid):
        return struct.pack("<QQQQII", nid, 0, 0, 0, 0, 0) + self._attr(nid)

    def _serve(self):
        while True:
            try:
                msg = os.read(self.fd, 1 << 20)
            except OSError as e:
                if e.errno in (errno.EINTR, errno.ENOENT):
                    continue  # ENOENT: a request interrupted before we read it
                os.close(self.fd)  # ENODEV: unmounted (the agent's namespace is gone)
                return
            _, op, unique, nid, uid, gid, _, _, _ = IN_HEADER.unpack_from(msg)
            body = msg[IN_HEADER.size:]
            with self.lock:
                err, out = self._handle(op, nid, uid, gid, body, unique)
                self.lock.notify_all()
            if op not in NO_REPLY and err is not None:
                self._reply(unique, err, out)

    def _name(self, body):
        return body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def _handle(self, op, nid, uid, gid, body, unique):
        """(errno, reply body), or (None, None) for no answer now."""
        if op == INIT:
            return 0, struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, 1 << 5, 0, 0, 131072, 1,
                                  0, 0, 0, *[0] * 7)
        if op in NO_REPLY:
            return None, None
        if op in (FSYNC, FSYNCDIR):
            self.events.append((NAMES[op], self._node_name(nid)))
            if self.hold:
                self.held.append(unique)
                return None, None
            return 0, b""
        if op == LOOKUP:
            n = self.names.get(self._name(body))
            return (errno.ENOENT, b"") if n is None else (0, self._entry(n))
        if nid not in self.nodes:
            return errno.ENOENT, b""
        if op == GETATTR:
            return 0, struct.pack("<QII", 0, 0, 0) + self._attr(nid)
        if op == SETATTR:
            valid, _, _, size = struct.unpack_from("<IIQQ", body)
            mode, _, uid_, gid_ = struct.unpack_from("<IIII", body, 68)
            n = self.nodes[nid]
            if valid & FATTR_MODE:
                n.mode = (n.mode & ~0o7777) | (mode & 0o7777)
            if valid & FATTR_UID:
                n.uid = uid_
            if valid & FATTR_GID:
                n.gid = gid_
            if valid & FATTR_SIZE:
                del n.data[size:]
            self.events.append(("setattr", self._node_name(nid)))
            return 0, struct.pack("<QII", 0, 0, 0) + self._attr(nid)
        if op == CREATE:
            _, mode, _, _ = struct.unpack_from("<IIII", body)
            name = self._name(body[16:])
            if name in self.names:
                return errno.EEXIST, b""
            new = self.next_id
            self.next_id += 1
            self.nodes[new] = Node(mode, uid, gid)
            self.names[name] = new
            self.events.append(("create", name))
            return 0, self._entry(new) + struct.pack("<QII", new, 0, 0)
        if op in (OPEN, OPENDIR):
            return 0, struct.pack("<QII", nid, 0, 0)
        if op == WRITE:
            _, off, size = struct.unpack_from("<QQI", body)
            data = body[40:40 + size]
            n = self.nodes[nid]
            if len(n.data) < off:
                n.data.extend(b"\0" * (off - len(n.data)))
            n.data[off:off + size] = data
            return 0, struct.pack("<II", size, 0)
        if op == READ:
            _, off, size = struct.unpack_from("<QQI", body)
            return 0, bytes(self.nodes[nid].data[off:off + size])
        if op == READDIR:
            _, off, size = struct.unpack_from("<QQI", body)
            out = b""
            for i, name in enumerate(sorted(self.names)[off:], off + 1):
                raw = name.encode("utf-8", "surrogateescape")
                ent = struct.pack("<QQII", self.names[name], i, len(raw), 8) + raw
                ent += b"\0" * (-len(ent) % 8)
                if len(out) + len(ent) > size:
                    break
                out += ent
            return 0, out
        if op in (RENAME, RENAME2):
            skip = 8 if op == RENAME else 16
            old, new = body[skip:].split(b"\0")[:2]
            old, new = old.decode("utf-8", "surrogateescape"), new.decode("utf-8", "surrogateescape")
            if old not in self.names:
                return errno.ENOENT, b""
            self.names[new] = self.names.pop(old)
            self.events.append(("rename", new))
            return 0, b""
        if op == UNLINK:
            name = self._name(body)
            if self.names.pop(name, None) is None:
                return errno.ENOENT, b""
            self.events.append(("unlink", name))
            return 0, b""
        if op == STATFS:
            return 0, struct.pack("<QQQQQIIII6I", 1 << 20, 1 << 20, 1 << 20, 1000, 1000,
                                  4096, 255, 4096, 0, *[0] * 6)
        if op in (FLUSH, RELEASE, RELEASEDIR, ACCESS, DESTROY):
            return 0, b""
        return errno.ENOSYS, b""

    def _node_name(self, nid):
        if nid == ROOT:
            return "/"
        for name, n in self.names.items():
            if n == nid:
                return name
        return "#%d" % nid
