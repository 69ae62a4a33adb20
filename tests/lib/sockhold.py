#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Socket workload for connpressure's system tests; runs inside a test netns (ip netns exec).
#
# hold mode (default): reads one JSON command per line on stdin, answers one JSON line on stdout.
#   {"op":"listen","addr":"127.0.0.1","port":5000,"family":"inet","serve":false,"backlog":4096,
#    "accept":true}            (accept false + backlog 0: later clients stay in SYN_SENT)
#   {"op":"bind","addr":"127.0.0.1","port":40006}                      (port 0: kernel picks)
#   {"op":"connect","daddr":"127.0.0.1","dport":5000,"n":10,"family":"inet","nonblock":false,
#    "wait":true,"bind":["127.0.0.1",0],"v6only":false}      (nonblock + wait false: left in SYN_SENT)
#        -> {"conns":[{"id","saddr","sport"}],"errors":[{"errno":99,"error":"EADDRNOTAVAIL"}]}
#   {"op":"close","ids":[...],"order":"client_first|server_first|client_only|server_only"}
#        client ids: who closes first is the test's choice; listener/bind ids are simply closed;
#        "after_peer": wait for the peer's FIN (sent by another process), then close
#   {"op":"close_accepted","ports":[40001,...]}   server side: close accepted sockets by peer port
#   {"op":"bind_many","addr":"127.0.0.1","port":0,"n":11,"proto":"tcp|udp","family":"inet"}
#        -> {"binds":[{"id","addr","port"}],"errors":[{"errno":98,"error":"EADDRINUSE"}]}
#   {"op":"udp","mode":"connect|sendto","daddr":"127.0.0.1","dport":6000,"n":3,"family":"inet"}
#        n new unbound UDP sockets, each connect()ed to / sendto() the destination (autobind),
#        held -> {"conns":[{"id","saddr","sport"}],"errors":[{"errno":11,"error":"EAGAIN"}]}
#   connect also takes "no_port":true (IP_BIND_ADDRESS_NO_PORT before "bind") and
#        "port_range":[lo,hi] (IP_LOCAL_PORT_RANGE, Linux 6.3+)
#   {"op":"exit"}
# Accepted sockets are held (never read) unless the listener "serve"s: then a connection is closed by
# the server when it reads EOF (client closed first) or the byte "S" (client asks the server to close
# first). That is the protocol of churn mode:
#   sockhold.py churn --dests 127.0.0.1:5000,[::1]:5001 --duration 3 --rate 250 --pool 8
#        --hold 2 --close-wait 1 --seed 1 [--settle 1.2]
#   opens and closes connections (both sides closing first), then holds --hold established and
#   --close-wait CLOSE_WAIT connections per destination, prints {"event":"done",...} and waits for
#   stdin EOF.
# Both modes first print {"event":"ready","pid":..,"comm":..,"netns_cookie":..}. --comm NAME sets the
# process name (what connpressure must report as comm).
import argparse
import collections
import ctypes
import errno
import ipaddress
import json
import os
import random
import select
import selectors
import socket
import struct
import sys
import time

SO_NETNS_COOKIE = 71
IP_BIND_ADDRESS_NO_PORT = 24
IP_LOCAL_PORT_RANGE = 51


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME


def netns_cookie():
    try:
        with socket.socket() as s:
            return struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0]
    except OSError:
        return None


def ready():
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    out({"event": "ready", "pid": os.getpid(), "comm": comm, "netns_cookie": netns_cookie()})


def norm(a):
    ip = ipaddress.ip_address(a.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def family_of(name, addr=None):
    if name == "inet6" or (name is None and addr and ":" in addr):
        return socket.AF_INET6
    return socket.AF_INET


def errname(e):
    return errno.errorcode.get(e, str(e))


def connect_one(daddr, dport, fam, nonblock, timeout=5.0, v6only=None, bind=None, wait=True,
                no_port=False, port_range=None):
    """Returns (socket, 0) or (None, errno). nonblock and not wait: a connect still in progress
    (SYN_SENT) is returned as it is. no_port: IP_BIND_ADDRESS_NO_PORT (the port of bind(addr, 0)
    is chosen by connect()); port_range: IP_LOCAL_PORT_RANGE [lo, hi] for this socket."""
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        if fam == socket.AF_INET6 and v6only is not None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        if no_port:
            s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        if port_range is not None:
            lo, hi = port_range
            s.setsockopt(socket.SOL_IP, IP_LOCAL_PORT_RANGE,
                         struct.pack("I", (lo & 0xffff) | ((hi & 0xffff) << 16)))
        if bind is not None:
            s.bind(tuple(bind))
        if nonblock:
            s.setblocking(False)
            err = s.connect_ex((daddr, dport))
            if err == errno.EINPROGRESS and not wait:
                return s, 0
            if err == errno.EINPROGRESS:
                _, w, _ = select.select([], [s], [], timeout)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if w else errno.ETIMEDOUT
            if err == 0:
                s.setblocking(True)
        else:
            s.settimeout(timeout)
            err = s.connect_ex((daddr, dport))
            s.settimeout(None)
    except OSError as e:
        err = e.errno
    if err:
        s.close()
        return None, err
    return s, 0


def wait_eof(s, timeout=2.0):
    """Wait until the peer's FIN arrived (recv returns b''), discarding data. True if seen."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return False
        try:
            data = s.recv(4096)
        except OSError:
            return True
        if not data:
            return True


class Holder:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.listeners = {}     # id -> (sock, serve)
        self.binds = {}         # id -> sock
        self.clients = {}       # id -> sock
        self.accepted = {}      # (peer addr, peer port, local port) -> sock
        self.served = set()     # accepted sockets of serving listeners
        self.n = 0
        self.inbuf = b""
        self.running = True

    def new_id(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    # --- accepting and serving
    def drain_accept(self):
        for lid, (ls, serve) in list(self.listeners.items()):
            while True:
                try:
                    c, peer = ls.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                # keyed by the peer and the listening port: one client port may connect to
                # several listeners of this process
                key = (norm(peer[0]), peer[1], c.getsockname()[1])
                self.accepted[key] = c
                if serve:
                    c.setblocking(False)
                    self.served.add(c)
                    self.sel.register(c, selectors.EVENT_READ, ("served", c))

    def serve_readable(self, c):
        try:
            data = c.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data or b"S" in data:
            self.drop_accepted(c)
            c.close()

    def drop_accepted(self, c):
        if c in self.served:
            self.served.discard(c)
            try:
                self.sel.unregister(c)
            except (KeyError, ValueError):
                pass
        for k, v in list(self.accepted.items()):
            if v is c:
                del self.accepted[k]

    def peer_of(self, cs):
        self.drain_accept()
        addr, port = cs.getsockname()[:2]
        try:
            dport = cs.getpeername()[1]
        except OSError:
            return None
        return self.accepted.get((norm(addr), port, dport))

    # --- commands
    def op_listen(self, cmd):
        fam = family_of(cmd.get("family"), cmd.get("addr"))
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6 and "v6only" in cmd:
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if cmd["v6only"] else 0)
        ls.bind((cmd.get("addr", "127.0.0.1"), cmd["port"]))
        ls.listen(cmd.get("backlog", 4096))
        ls.setblocking(False)
        lid = self.new_id("L")
        if not cmd.get("accept", True):     # never accepted: a full queue drops SYNs (SYN_SENT)
            self.binds[lid] = ls
            return {"id": lid, "port": ls.getsockname()[1]}
        self.listeners[lid] = (ls, bool(cmd.get("serve")))
        self.sel.register(ls, selectors.EVENT_READ, ("listener", lid))
        return {"id": lid, "port": ls.getsockname()[1]}

    def op_bind(self, cmd):
        fam = family_of(cmd.get("family"), cmd.get("addr"))
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((cmd.get("addr", "127.0.0.1"), cmd.get("port", 0)))
        except OSError as e:
            s.close()
            return {"ok": False, "errno": e.errno, "error": errname(e.errno)}
        bid = self.new_id("B")
        self.binds[bid] = s
        return {"id": bid, "port": s.getsockname()[1]}

    def op_bind_many(self, cmd):
        """n sockets bound to (addr, port), TCP or UDP; failures are collected, not raised."""
        fam = family_of(cmd.get("family"), cmd.get("addr"))
        kind = socket.SOCK_DGRAM if cmd.get("proto", "tcp") == "udp" else socket.SOCK_STREAM
        binds, errors = [], []
        for _ in range(cmd.get("n", 1)):
            s = socket.socket(fam, kind)
            try:
                if fam == socket.AF_INET6 and "v6only" in cmd:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if cmd["v6only"] else 0)
                s.bind((cmd.get("addr", "127.0.0.1"), cmd.get("port", 0)))
            except OSError as e:
                s.close()
                errors.append({"errno": e.errno, "error": errname(e.errno)})
                continue
            bid = self.new_id("B")
            self.binds[bid] = s
            addr, port = s.getsockname()[:2]
            binds.append({"id": bid, "addr": norm(addr), "port": port})
        return {"binds": binds, "errors": errors}

    def op_udp(self, cmd):
        """n new unbound UDP sockets: connect() or sendto() the destination (the kernel autobinds a
        port; EAGAIN when the range is used up). Sockets that got a port are held."""
        fam = family_of(cmd.get("family"), cmd["daddr"])
        mode = cmd.get("mode", "connect")
        conns, errors = [], []
        for _ in range(cmd.get("n", 1)):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            try:
                if cmd.get("port_range"):
                    lo, hi = cmd["port_range"]
                    s.setsockopt(socket.SOL_IP, IP_LOCAL_PORT_RANGE,
                                 struct.pack("I", (lo & 0xffff) | ((hi & 0xffff) << 16)))
                if mode == "connect":
                    s.connect((cmd["daddr"], cmd["dport"]))
                elif mode == "sendto":
                    s.sendto(b"x", (cmd["daddr"], cmd["dport"]))
                else:
                    raise ValueError(f"unknown udp mode {mode}")
            except OSError as e:
                s.close()
                errors.append({"errno": e.errno, "error": errname(e.errno)})
                continue
            uid = self.new_id("U")
            self.binds[uid] = s
            saddr, sport = s.getsockname()[:2]
            conns.append({"id": uid, "saddr": norm(saddr), "sport": sport})
        return {"conns": conns, "errors": errors}

    def op_connect(self, cmd):
        fam = family_of(cmd.get("family"), cmd["daddr"])
        conns, errors = [], []
        for _ in range(cmd.get("n", 1)):
            s, err = connect_one(cmd["daddr"], cmd["dport"], fam, cmd.get("nonblock", False),
                                 v6only=cmd.get("v6only"), bind=cmd.get("bind"),
                                 wait=cmd.get("wait", True), no_port=cmd.get("no_port", False),
                                 port_range=cmd.get("port_range"))
            if err:
                errors.append({"errno": err, "error": errname(err)})
                continue
            cid = self.new_id("C")
            self.clients[cid] = s
            saddr, sport = s.getsockname()[:2]
            conns.append({"id": cid, "saddr": norm(saddr), "sport": sport})
        self.drain_accept()
        return {"conns": conns, "errors": errors}

    def close_client(self, cid, order):
        cs = self.clients.pop(cid)
        peer = self.peer_of(cs)
        if order in ("server_first", "server_only") and peer is None:
            raise RuntimeError(f"{cid}: no accepted socket in this process to close first")
        if order == "client_first":
            cs.close()
            if peer is not None:
                peer.setblocking(True)
                wait_eof(peer)
                self.drop_accepted(peer)
                peer.close()
        elif order == "client_only":
            cs.close()
        elif order == "server_first":
            self.drop_accepted(peer)
            peer.close()
            wait_eof(cs)
            cs.close()
        elif order == "after_peer":       # the peer (maybe another process) closes first
            wait_eof(cs)
            cs.close()
        elif order == "server_only":
            self.drop_accepted(peer)
            peer.close()
            wait_eof(cs)
            self.clients[cid] = cs      # still held, now in CLOSE_WAIT
        else:
            raise ValueError(f"unknown order {order}")

    def op_close(self, cmd):
        order = cmd.get("order", "client_first")
        for i in cmd["ids"]:
            if i in self.clients:
                self.close_client(i, order)
            elif i in self.listeners:
                ls, _ = self.listeners.pop(i)
                self.sel.unregister(ls)
                ls.close()
            elif i in self.binds:
                self.binds.pop(i).close()
            else:
                raise KeyError(f"unknown id {i}")
        return {}

    def op_close_accepted(self, cmd):
        """Close this process's accepted sockets whose peer port is in cmd["ports"]."""
        self.drain_accept()
        ports = set(cmd["ports"])
        closed = 0
        for (addr, port, _lport), c in list(self.accepted.items()):
            if port in ports:
                self.drop_accepted(c)
                c.close()
                closed += 1
        return {"closed": closed}

    def handle(self, line):
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "exit":
                self.running = False
                res = {}
            else:
                fn = getattr(self, f"op_{op}", None)
                if fn is None:
                    raise ValueError(f"unknown op {op!r}")
                res = fn(cmd)
            res.setdefault("ok", True)
            res["op"] = op
        except Exception as e:  # report, keep running
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out(res)

    def loop(self):
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, ("stdin", None))
        while self.running:
            for key, _ in self.sel.select(timeout=1.0):
                kind, arg = key.data
                if kind == "stdin":
                    try:
                        chunk = os.read(0, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        self.running = False
                        break
                    self.inbuf += chunk
                    while b"\n" in self.inbuf:
                        line, self.inbuf = self.inbuf.split(b"\n", 1)
                        if line.strip():
                            self.handle(line.decode())
                        if not self.running:
                            break
                elif kind == "listener":
                    self.drain_accept()
                elif kind == "served":
                    self.serve_readable(arg)


def parse_dest(s):
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


def churn(args):
    dests = [parse_dest(d) for d in args.dests.split(",")]
    rng = random.Random(args.seed)
    pool = collections.deque()
    stats = {"connects": 0, "failures": 0, "errors": {}, "closed_client_first": 0,
             "closed_server_first": 0}

    def close_one(s, mode):
        try:
            if mode == "S":
                s.sendall(b"S")
                wait_eof(s)
                stats["closed_server_first"] += 1
            else:
                stats["closed_client_first"] += 1
        except OSError:
            pass
        s.close()

    deadline = time.monotonic() + args.duration
    period = 1.0 / args.rate if args.rate > 0 else 0
    nxt = time.monotonic()
    while time.monotonic() < deadline:
        daddr, dport = rng.choice(dests)
        s, err = connect_one(daddr, dport, family_of(None, daddr), False, timeout=2.0)
        if err:
            stats["failures"] += 1
            stats["errors"][errname(err)] = stats["errors"].get(errname(err), 0) + 1
            if pool:
                close_one(*pool.popleft())
        else:
            stats["connects"] += 1
            pool.append((s, rng.choice("CS")))
        while len(pool) > rng.randint(0, args.pool):
            close_one(*pool.popleft())
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    while pool:
        close_one(*pool.popleft())
    time.sleep(args.settle)
    held = []
    for daddr, dport in dests:
        for _ in range(args.hold):
            s, err = connect_one(daddr, dport, family_of(None, daddr), False)
            if s:
                held.append(s)
        for _ in range(args.close_wait):
            s, err = connect_one(daddr, dport, family_of(None, daddr), False)
            if s:
                s.sendall(b"S")
                wait_eof(s)
                held.append(s)          # never closed: CLOSE_WAIT
    stats["held"] = len(held)
    out({"event": "done", **stats})
    sys.stdin.read()                    # hold until the test closes stdin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="hold", choices=["hold", "churn"])
    ap.add_argument("--comm")
    ap.add_argument("--dests", default="127.0.0.1:5000")
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--rate", type=float, default=250.0)
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--hold", type=int, default=2)
    ap.add_argument("--close-wait", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--settle", type=float, default=0.0,
                    help="churn: pause before holding (lets TIME_WAIT become reusable)")
    args = ap.parse_args()
    if args.comm:
        set_comm(args.comm)
    ready()
    if args.mode == "churn":
        churn(args)
    else:
        Holder().loop()


if __name__ == "__main__":
    main()
