# SPDX-License-Identifier: GPL-2.0
# Ground truth from `ss -tanH` inside a namespace, grouped the way connpressure defines destinations.
import ipaddress

STATE_BUCKET = {
    "ESTAB": "established",
    "SYN-SENT": "syn_sent",
    "TIME-WAIT": "time_wait",
    "TIMEWAIT-FIN-WAIT-2": "time_wait",    # a timewait socket in its FIN_WAIT2 substate
    "FIN-WAIT-1": "other",
    "FIN-WAIT-2": "other",
    "CLOSE-WAIT": "other",
    "LAST-ACK": "other",
    "CLOSING": "other",
}
BUCKETS = ("established", "syn_sent", "time_wait", "other")


def norm_addr(a):
    """Normalise an address the way the tool prints it: v4-mapped IPv6 as IPv4, IPv6 compressed."""
    a = a.strip("[]")
    if "%" in a:
        a = a.split("%", 1)[0]
    ip = ipaddress.ip_address(a)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def split_hostport(s):
    host, port = s.rsplit(":", 1)
    return host, port


def rows(ns):
    """All TCP sockets in the namespace: list of dicts state, laddr, lport, raddr, rport."""
    # -o shows the timer: a timewait socket still in its FIN_WAIT2 substate is listed as
    # FIN-WAIT-2 but with timer:(timewait,...). The kernel counts it as TIME_WAIT (sockstat
    # "tw", tcp_max_tw_buckets), and so does connpressure.
    out = ns.run(["ss", "-tanoH"]).stdout
    result = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        state = f[0]
        if "timer:(timewait" in line and state != "TIME-WAIT":
            state = "TIMEWAIT-" + state     # e.g. TIMEWAIT-FIN-WAIT-2
        lh, lp = split_hostport(f[3])
        rh, rp = split_hostport(f[4])
        if lp == "*" or rp == "*":
            result.append({"state": state, "laddr": lh, "lport": None, "raddr": rh, "rport": None})
            continue
        result.append({"state": state, "laddr": norm_addr(lh), "lport": int(lp),
                       "raddr": norm_addr(rh), "rport": int(rp)})
    return result


def listen_ports(all_rows):
    return {r["lport"] for r in all_rows if r["state"] == "LISTEN" and r["lport"] is not None}


def empty_view():
    return {"in_use": 0, "states": {b: 0 for b in BUCKETS}}


def truth(ns, port_range=None, exclude_lports=()):
    """{(saddr, daddr, dport): {"in_use": n, "states": {...}}} for client sockets whose local port
    lies in the ephemeral range. Sockets whose local port is a listening port (accepted sockets)
    and ports in exclude_lports (bind()-chosen ports the test knows of) are left out."""
    lo, hi = port_range or ns.port_range
    all_rows = rows(ns)
    lports = listen_ports(all_rows) | set(exclude_lports)
    result = {}
    for r in all_rows:
        if r["state"] in ("LISTEN", "SYN-RECV", "UNCONN") or r["lport"] is None:
            continue
        if not (lo <= r["lport"] <= hi) or r["lport"] in lports:
            continue
        key = (r["laddr"], r["raddr"], r["rport"])
        v = result.setdefault(key, empty_view())
        v["in_use"] += 1
        v["states"][STATE_BUCKET.get(r["state"], "other")] += 1
    return result


def count_state(ns, state, daddr=None, dport=None):
    n = 0
    for r in rows(ns):
        if r["state"] != state:
            continue
        if daddr is not None and r["raddr"] != daddr:
            continue
        if dport is not None and r["rport"] != dport:
            continue
        n += 1
    return n


def netstat(ns, group, field):
    """A counter from /proc/net/netstat or /proc/net/snmp inside the namespace (e.g. TcpExt
    TWRecycled), or None."""
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        lines = ns.run(["cat", path]).stdout.splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            n, v = names.split(), values.split()
            if n and n[0] == f"{group}:" and field in n:
                return int(v[n.index(field)])
    return None


# --- UDP (ss -uanH) and reserved ports

def parse_port_set(text):
    """'40000-40002,50000' (ip_local_reserved_ports) -> set of ports."""
    ports = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return ports


def reserved_ports(ns):
    return parse_port_set(ns.sysctl("net.ipv4.ip_local_reserved_ports"))


def udp_addr(a):
    """ss prints a dual-stack IPv6 wildcard as '*' (and a v6only one as '[::]'): both are '::'."""
    return "::" if a == "*" else norm_addr(a)


def udp_rows(ns):
    """All UDP sockets in the namespace: list of dicts state, laddr, lport, raddr, rport (None
    when '*')."""
    out = ns.run(["ss", "-uanH"]).stdout
    result = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        lh, lp = split_hostport(f[3])
        rh, rp = split_hostport(f[4])
        result.append({"state": f[0], "laddr": udp_addr(lh), "lport": int(lp),
                       "raddr": None if rp == "*" else udp_addr(rh),
                       "rport": None if rp == "*" else int(rp)})
    return result


def udp_truth(ns, port_range=None, reserved=None):
    """{"in_use": distinct local ports in the range (not reserved) held by UDP sockets,
        "by_addr": {local address: distinct such ports on it}}."""
    lo, hi = port_range or ns.port_range
    res = reserved_ports(ns) if reserved is None else set(reserved)
    ports, by_addr = set(), {}
    for r in udp_rows(ns):
        p = r["lport"]
        if lo <= p <= hi and p not in res:
            ports.add(p)
            by_addr.setdefault(r["laddr"], set()).add(p)
    return {"in_use": len(ports), "by_addr": {a: len(v) for a, v in by_addr.items()}}
