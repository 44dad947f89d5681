#!/usr/bin/env python3
"""Integration tests: synthesized captures replayed through the real helogate.

usage: replay_test.py SOURCE_ROOT BUILD_ROOT CASE
CASE: mix | scenarios | errors | refused | enforce | events | cli | fragments | workers

Each case runs helogate-synth to write a capture and the events helogate
should report, replays the capture through scripts/helogate-replay (the real
binary on net_pcap, single-port lab mode, detect mode), and checks:
  - the events equal the expected ones (client, server, command, helo,
    reason, rcpt), no more and no less;
  - the output capture equals the input frame for frame, except where a
    scenario defines drops, which the counters must show;
  - every mbuf is back in its pool when helogate exits.
The events case checks the events file as operations need it: appended to,
never truncated; a write error (/dev/full, a closed pipe) counted, reported
and turned into exit status 1 instead of a silent loss or SIGPIPE; the file
reopened by name on SIGHUP. The cli case checks --help, --version and
--check-config without EAL, and the strict configuration contract (one line,
FILE:LINE for the INI file, exit status 2).
Prints one PASS/FAIL line per check; exits 1 on any failure.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

SRC, BUILD, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SYNTH = os.path.join(BUILD, "app", "helogate-synth")
HELOGATE = os.path.join(BUILD, "app", "helogate")
REPLAY = os.path.join(SRC, "scripts", "helogate-replay")
FRAMES_EQUAL = os.path.join(SRC, "scripts", "pcap-frames-equal")
LAB_OPTIONS = ["--mode", "detect", "--banlist", os.path.join(SRC, "tests", "data", "banlist.txt"),
               "--local-domain", "lab-mail.net", "--flows", "65536", "--blocks", "8192"]
EVENT_KEYS = ("client", "server", "command", "helo", "reason", "rcpt")

failures = 0


def check(ok, what, detail=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail))
    if not ok:
        failures += 1
    return ok


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def read_events(path):
    out = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            out.append(tuple(e.get(k, "") for k in EVENT_KEYS))
    return out


def replay(work, name, synth_args, extra=(), env_extra=None, full=False):
    """Synthesize, replay; return (expected, events, stats, input, output)
    (with full: the whole stats object and helogate's stderr as well)."""
    pcap = os.path.join(work, name + ".pcap")
    expect = os.path.join(work, name + ".expected.jsonl")
    out = os.path.join(work, name + ".out.pcap")
    events = os.path.join(work, name + ".events.jsonl")
    stats = os.path.join(work, name + ".stats.json")
    r = run([SYNTH, "-o", pcap, "--expect", expect] + synth_args)
    if not check(r.returncode == 0, f"{name}: helogate-synth runs", r.stderr.strip()):
        return None
    r = run([REPLAY, pcap, "-o", out, "--events", events, "--stats", stats] + LAB_OPTIONS +
            list(extra), env=dict(os.environ, HELOGATE=HELOGATE, **(env_extra or {})))
    if not check(r.returncode == 0, f"{name}: helogate-replay exits 0 by itself",
                 r.stderr.strip()[-2000:]):
        return None
    with open(stats) as f:
        st = json.load(f)
    check(st["mbufs_in_use"] == 0, f"{name}: every mbuf back in its pool",
          str(st["mbufs_in_use"]))
    check_accounting(name, st)
    if full:
        return read_events(expect), read_events(events), st, pcap, out, r.stderr
    return read_events(expect), read_events(events), st["total"], pcap, out


def check_accounting(name, st):
    """received + injected = transmitted + dropped (by cause) + held, in
    the total and in every worker, and with software distribution at the
    ports too (the distributor's rings held, its drops counted); at exit
    nothing is held."""
    objs = [("total", st["total"])] + [(f"worker {i}", w) for i, w in enumerate(st["workers"])]
    if "distributor" in st:
        objs.append(("at the ports (distributor)", st["distributor"]))
    for label, obj in objs:
        p = obj["packets"]
        dropped = sum(p["dropped"].values())
        check(p["received"] + p["injected"] == p["transmitted"] + dropped + p["held"],
              f"{name}: {label}: every packet ends in one cause",
              f"received {p['received']} + injected {p['injected']} != transmitted "
              f"{p['transmitted']} + dropped {dropped} {p['dropped']} + held {p['held']}")
        check(p["held"] == 0, f"{name}: {label}: nothing held at exit", str(p["held"]))


def frames_equal(a, b):
    return run([FRAMES_EQUAL, a, b])


def compare_events(name, expected, got):
    missing = [e for e in expected if e not in got]
    extra = [e for e in got if e not in expected]
    check(not missing and not extra and len(expected) == len(got),
          f"{name}: events equal the expected ({len(expected)})",
          f"missing {missing[:3]} extra {extra[:3]} (counts {len(expected)} vs {len(got)})")


def case_mix(work):
    res = replay(work, "mix", ["--profile", "smtp-mix", "--sessions", "10000", "--seed", "7",
                               "--concurrency", "64", "--body-max", "16384"])
    if res is None:
        return
    expected, got, total, pcap, out = res
    compare_events("mix", sorted(expected), sorted(got))
    reasons = {e[4] for e in expected}
    check(len(reasons) == 7, "mix: the capture holds every bogus reason", str(sorted(reasons)))
    r = frames_equal(pcap, out)
    check(r.returncode == 0, "mix: detect mode output capture equals the input",
          r.stdout + r.stderr)
    check(total["flows_created"] >= 10000, "mix: every session tracked from its SYN",
          str(total["flows_created"]))
    check(total["flows_table_full"] == 0 and total["events_dropped"] == 0,
          "mix: nothing failed open for lack of room")


def case_enforce(work):
    """The mix and a bogus flood replayed in enforce mode: bogus sessions
    are taken over (the server reset, the client answered), and the
    accounting closes with the injected segments."""
    for name, synth in [("enforce-mix", ["--profile", "smtp-mix", "--sessions", "2000",
                                         "--seed", "11", "--concurrency", "32"]),
                        ("enforce-flood", ["--profile", "bogus-flood", "--sessions", "500",
                                           "--seed", "5", "--concurrency", "16"])]:
        res = replay(work, name, synth, ["--mode", "enforce"])
        if res is None:
            continue
        expected, got, total, pcap, out = res
        with open(os.path.join(work, name + ".events.jsonl")) as f:
            evs = [json.loads(line) for line in f]
        rejected = [e for e in evs if e.get("action") == "rejected" and e.get("command") == "RCPT"]
        check(total["takeovers"] > 0 and total["injected_packets"] > 0,
              f"{name}: bogus sessions are taken over",
              f"takeovers {total['takeovers']} injected {total['injected_packets']}")
        check(total["takeover_rejected_rcpts"] == len(rejected) and len(rejected) > 0,
              f"{name}: one rejected event per 550 sent",
              f"rcpts {total['takeover_rejected_rcpts']} events {len(rejected)}")
        check(total["packets"]["dropped"]["takeover_dropped"] +
              total["packets"]["dropped"]["takeover_server_dropped"] +
              total["packets"]["dropped"]["takeover_answered"] > 0,
              f"{name}: taken-over sessions' packets never cross helogate")
        check(total["takeover_no_memory"] == 0, f"{name}: no takeover lacked memory")


# Scenario -> (counters that must reach a minimum: the defined outcome,
# whether the output must equal the input (no packet dropped), extra options).
SCENARIOS = {
    "pipelining": ({}, True, []),
    "body-with-commands": ({}, True, []),
    "bdat": ({}, True, []),
    "starttls": ({"passthrough.tls-started": 2}, True, []),
    "rset-new-helo": ({}, True, []),
    "ipv6": ({}, True, []),
    "vlan": ({}, True, []),
    "qinq": ({}, True, []),
    "ipv6-hbh": ({}, True, []),
    "helo-one-byte-per-segment": ({}, True, []),
    "seq-wrap": ({}, True, []),
    "nul-8bit": ({}, True, []),
    "bare-lf": ({}, True, []),
    # Was passthrough.line-too-long: the line is now cut and skipped as
    # Postfix does, and the RCPTs after it are judged (2 localhost events).
    "long-line": ({}, True, []),
    "syn-flood": ({"flows_evicted_syn": 978, "flows_table_full": 0}, True, ["--flows", "1024"]),
    "third-party-rst": ({"rst_out_of_window_dropped": 1}, False, []),
    "conflicting-retransmit": ({"stream.drop-conflict": 1, "conflict_dropped": 1}, False, []),
    "beyond-window": ({"stream.drop-out-of-window": 1}, False, []),
    "zero-window-probe": ({"stream.zero-window-probe": 1}, True, []),
    "truncated-ipv4": ({"parse.truncated-l3": 1, "fast_path": 1}, True, []),
    "ipv4-total-length-too-big": ({"parse.bad-ip-total-len": 1, "malformed_dropped": 1}, False, []),
    "tcp-offset-past-end": ({"parse.bad-tcp-data-offset": 1, "malformed_dropped": 1}, False, []),
    "midstream": ({"untracked_forwarded": 30, "flows_created": 0}, True, []),
}


def counter(total, name):
    if "." in name:
        group, key = name.split(".", 1)
        group = {"stream": "stream", "passthrough": "passthrough", "parse": "parse"}[group]
        return total[group].get(key, 0)
    return total[name]


def case_scenarios(work):
    r = run([SYNTH, "--list-scenarios"])
    available = set(r.stdout.split())
    for name, (counters, same, extra) in SCENARIOS.items():
        if not check(name in available, f"{name}: helogate-synth knows the scenario"):
            continue
        res = replay(work, name, ["--scenario", name], extra)
        if res is None:
            continue
        expected, got, total, pcap, out = res
        compare_events(name, expected, got)
        for c, minimum in counters.items():
            v = counter(total, c)
            ok = v >= minimum if minimum > 0 else v == 0
            check(ok, f"{name}: counter {c} shows the defined outcome", f"{c}={v}")
        if same:
            r = frames_equal(pcap, out)
            check(r.returncode == 0, f"{name}: every packet forwarded unchanged",
                  r.stdout + r.stderr)


def tcp_frame(src, dst, sport, dport, seq, ack, flags):
    """An Ethernet/IPv4/TCP frame with correct checksums."""
    import struct

    def csum(data):
        if len(data) % 2:
            data += b"\0"
        total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        while total >> 16:
            total = (total & 0xffff) + (total >> 16)
        return ~total & 0xffff

    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp
    return frame + b"\0" * (60 - len(frame))


def write_pcap(path, frames):
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1795392000, i, len(fr), len(fr)) + fr)


def case_refused(work):
    """Sessions that end before the server's SYN-ACK: refused by a RST, or
    never answered (their SYN timer runs out while the replay idles). Each
    frees a flow that never started its streams; nothing may be returned
    to the block pool twice (a regression: helogate aborted here)."""
    client, server = [198, 19, 7, 1], [198, 18, 1, 25]
    frames = []
    for i in range(64):
        isn = 1000 + i
        frames.append(tcp_frame(client, server, 40000 + i, 25, isn, 0, 0x02))
        frames.append(tcp_frame(server, client, 25, 40000 + i, 0, isn + 1, 0x14))
    for i in range(64):
        frames.append(tcp_frame(client, server, 41000 + i, 25, 5000 + i, 0, 0x02))
    pcap = os.path.join(work, "refused.pcap")
    write_pcap(pcap, frames)
    stats = os.path.join(work, "refused.stats.json")
    r = run([REPLAY, pcap, "--stats", stats, "--timeout-syn", "1"] + LAB_OPTIONS,
            env=dict(os.environ, HELOGATE=HELOGATE, HELOGATE_IDLE_MS="3000"), timeout=120)
    if not check(r.returncode == 0, "refused: helogate survives flows freed before the SYN-ACK",
                 r.stderr.strip()[-500:]):
        return
    with open(stats) as f:
        total = json.load(f)["total"]
    check(total["flows_reset"] == 64, "refused: 64 refusals free their flows",
          str(total["flows_reset"]))
    check(total["flows_expired"] == 64, "refused: 64 unanswered SYNs expire",
          str(total["flows_expired"]))


def case_errors(work):
    base = [HELOGATE, "-l", "0,1", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
            "--file-prefix", f"hg-err-{os.getpid()}", "--log-level", "error",
            "--vdev", "net_ring0", "--"]
    cases = [
        (["--single-port", "0", "--bogus-option"], "unknown option"),
        (["--single-port", "0", "--banlist", os.path.join(work, "missing.txt")], "missing.txt"),
        (["--single-port", "5"], "port 5"),
        (["--single-port", "0", "--mode", "audit"], "mode"),
        (["--single-port", "0", "--local-ip", "not-an-ip"], "local-ip"),
        (["--single-port", "0", "--config", os.path.join(work, "nope.ini")], "nope.ini"),
    ]
    for args, needle in cases:
        r = run(base + args, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.startswith("helogate:")]
        check(r.returncode != 0 and len(lines) == 1 and needle in lines[0],
              f"errors: {' '.join(args[2:])} -> one clear line, non-zero exit",
              f"rc={r.returncode} stderr={r.stderr.strip()[-300:]}")
    ini = os.path.join(work, "good.ini")
    with open(ini, "w") as f:
        f.write("[helogate]\nsingle-port = 0\nlocal-domain = lab-mail.net, example.net\n"
                "smtp-port = 25, 587\nexit-idle = 200\n")
    r = run(base + ["--config", ini], timeout=60)
    check(r.returncode == 0, "errors: a valid --config file runs and exits when idle",
          r.stderr.strip()[-300:])


def case_events(work):
    pcap = os.path.join(work, "events.pcap")
    expect = os.path.join(work, "events.expected.jsonl")
    r = run([SYNTH, "-o", pcap, "--expect", expect, "--profile", "bogus-flood",
             "--sessions", "50", "--seed", "3"])
    if not check(r.returncode == 0, "events: helogate-synth runs", r.stderr.strip()):
        return
    n_expected = len(read_events(expect))
    env = dict(os.environ, HELOGATE=HELOGATE)

    # 1. A pre-existing events file is appended to, never truncated.
    events = os.path.join(work, "events.jsonl")
    old = '{"ts":"2000-01-01T00:00:00.000000Z","note":"from an earlier run"}\n'
    with open(events, "w") as f:
        f.write(old)
    r = run([REPLAY, pcap, "--events", events] + LAB_OPTIONS, env=env)
    check(r.returncode == 0, "events: a replay into an existing file exits 0",
          r.stderr.strip()[-500:])
    with open(events) as f:
        lines = f.readlines()
    check(lines[:1] == [old] and len(lines) == 1 + n_expected,
          "events: the existing file keeps its first line and gains the new events",
          f"{len(lines)} lines, first {lines[:1]}")

    # The EVE fields: the packet's time (net_pcap stamps each packet with
    # its capture time), one flow_id per session, the compatible keys kept.
    with open(pcap, "rb") as f:
        first_sec = struct.unpack("<I", f.read(28)[24:28])[0]
    day = time.strftime("%Y-%m-%dT", time.gmtime(first_sec))
    eve = [json.loads(l) for l in lines[1:]]
    check(all(e["timestamp"].startswith(day) and e["timestamp"].endswith("+0000")
              for e in eve), f"events: timestamp is the packet's time ({day}...)",
          str([e["timestamp"] for e in eve[:3]]))
    check(all(e["event_type"] == "smtp_helo" and e["proto"] == "TCP" and
              e["src_ip"] + ":" + str(e["src_port"]) == e["client"] and
              e["smtp"]["helo"] == e["helo"] and e["verdict"]["reason"] == e["reason"]
              for e in eve), "events: EVE keys agree with the compatible keys")
    per_client = {}
    for e in eve:
        per_client.setdefault(e["client"], set()).add(e["flow_id"])
    check(all(len(ids) == 1 for ids in per_client.values()) and
          len({e["flow_id"] for e in eve}) == len(per_client),
          "events: one flow_id per session", str(per_client)[:300])

    # 2. /dev/full: every event lost, counted, said, exit status 1.
    stats = os.path.join(work, "full.stats.json")
    r = run([REPLAY, pcap, "--events", "/dev/full", "--stats", stats] + LAB_OPTIONS, env=env)
    check(r.returncode == 1, "events: --events /dev/full exits 1", f"rc={r.returncode}")
    check("events were lost" in r.stderr and "No space left on device" in r.stderr,
          "events: --events /dev/full says that events were lost, and why",
          r.stderr.strip()[-500:])
    with open(stats) as f:
        st = json.load(f)
    check(st["events_write_failed"] == n_expected,
          "events: events_write_failed counts every lost event",
          f"{st['events_write_failed']} vs {n_expected}")

    # 3. A reader that went away (--events - | head -1): no SIGPIPE death,
    #    the loss counted and exit status 1.
    rd, wr = os.pipe()
    os.close(rd)
    p = subprocess.run([REPLAY, pcap, "--events", "-"] + LAB_OPTIONS, env=env, stdout=wr,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    os.close(wr)
    check(p.returncode == 1 and "Broken pipe" in p.stderr,
          "events: a closed reader is a counted write error, not SIGPIPE",
          f"rc={p.returncode} {p.stderr.strip()[-300:]}")

    # 4. SIGHUP reopens the file by name after logrotate moved it.
    events = os.path.join(work, "rotated.jsonl")
    cmd = [HELOGATE, "-l", "0,1", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
           "--file-prefix", f"hg-hup-{os.getpid()}", "--log-level", "error",
           "--vdev", "net_ring0", "--", "--single-port", "0", "--events", events]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not os.path.exists(events) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    os.rename(events, events + ".1")
    proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while not os.path.exists(events) and time.time() < deadline:
        time.sleep(0.1)
    reopened = os.path.exists(events)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    check(reopened and proc.returncode == 0 and "not reopened" not in err,
          "events: SIGHUP creates the events file again after a move",
          f"reopened={reopened} rc={proc.returncode} {err.strip()[-300:]}")


def case_cli(work):
    # --help and --version before EAL: no hugepages, no EAL message.
    for args, needle in [(["--", "--help"], "--check-config"), (["--help"], "usage: helogate"),
                         (["--version"], "helogate "), (["--", "--version"], "Hyperscan ")]:
        r = run([HELOGATE] + args, timeout=30)
        check(r.returncode == 0 and needle in r.stdout and "EAL" not in r.stderr,
              f"cli: helogate {' '.join(args)} works without EAL",
              f"rc={r.returncode} {r.stderr.strip()[-300:]}")
    r = run([HELOGATE, "--version"], timeout=30)
    lines = r.stdout.splitlines()
    check(len(lines) == 3 and lines[1].startswith("DPDK 22.") and
          lines[2].startswith("Hyperscan "), "cli: --version names helogate, DPDK and Hyperscan",
          r.stdout)

    banlist = os.path.join(SRC, "tests", "data", "banlist.txt")
    good = os.path.join(work, "good.ini")
    with open(good, "w") as f:
        f.write("# helogate\n[helogate]\nmode = detect\nbanlist = %s\n"
                "events = %s\n" % (banlist, os.path.join(work, "ev.jsonl")))
    r = run([HELOGATE, "--check-config", "--config", good], timeout=60)
    check(r.returncode == 0 and "configuration OK" in r.stderr and "3 name(s)" in r.stderr
          and not os.path.exists(os.path.join(work, "ev.jsonl")),
          "cli: --check-config loads a good file, creates nothing and exits 0",
          f"rc={r.returncode} {r.stderr.strip()[-300:]}")
    eal = [HELOGATE, "-l", "0,1", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
           "--file-prefix", f"hg-cli-{os.getpid()}", "--log-level", "error",
           "--vdev", "net_ring0", "--"]
    r = run(eal + ["--check-config", "--single-port", "0"], timeout=60)
    check(r.returncode == 0 and "0: net_ring0" in r.stderr,
          "cli: --check-config with EAL options names the ports",
          f"rc={r.returncode} {r.stderr.strip()[-300:]}")
    r = run(eal + ["--check-config", "--single-port", "4"], timeout=60)
    check(r.returncode == 2 and "port 4 does not exist" in r.stderr,
          "cli: --check-config refuses a missing port", f"rc={r.returncode}")

    bad_patterns = os.path.join(work, "bad.patterns")
    with open(bad_patterns, "w") as f:
        f.write("^dyn[-.]\n(unclosed\n")
    bad_ini = os.path.join(work, "bad.ini")
    with open(bad_ini, "w") as f:
        f.write("[helogate]\nmode = detect\nmode = enforce\n")
    cases = [
        (["--check-config", "--banned-patterns", bad_patterns], bad_patterns + ":2:"),
        (["--check-config", "--events", work], work + ": is a directory"),
        (["--check-config", "--config", work], work + ":0: is a directory"),
        (["--check-config", "--config", bad_ini],
         bad_ini + ":3: duplicate key 'mode' (first set at line 2)"),
        (["--", "--config", bad_ini], bad_ini + ":3: duplicate key"),
        (["--", "--events", "/tmp/x", "--stats", "/tmp/x"], "must not name the same file"),
    ]
    for args, needle in cases:
        r = run([HELOGATE] + args, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.startswith("helogate: ") and
                 "loaded" not in l and "compiled" not in l and "name(s)" not in l]
        check(r.returncode == 2 and len(lines) == 1 and needle in lines[0],
              f"cli: {' '.join(args)} -> exit 2, one line with '{needle}'",
              f"rc={r.returncode} {r.stderr.strip()[-300:]}")


# ---- IP fragments (docs/design.md, "IP fragments") ----------------------------

C4, S4 = bytes([198, 19, 9, 1]), bytes([198, 18, 1, 25])
C6 = bytes.fromhex("20010db8000900000000000000000001")
S6 = bytes.fromhex("20010db8000100000000000000000025")
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
RCPT = b"RCPT TO:<bob@lab-mail.net>\r\n"  # 48 bytes of TCP with its header
RCPT_ID = 0x4242


def csum(data):
    import struct
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def tcp_segment(v6, src, dst, sport, dport, seq, ack, flags, payload=b""):
    """TCP header and payload, checksummed for the IPv4 or IPv6 pseudo-header."""
    import struct
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    return tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]


def ip_frame(v6, src, dst, l4, ident=1, frag=0, nh=6, exts=b""):
    """Ethernet + IPv4 (ident, flags/offset field) or IPv6 (extension
    headers exts, first next header nh) around l4, padded to 60 bytes."""
    import struct
    if v6:
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(exts) + len(l4), nh, 64, src, dst) + exts
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, frag, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
    frame = eth + ip + l4
    return frame + b"\0" * (60 - len(frame))


def fragments(v6, src, dst, l4, cuts, ident=RCPT_ID):
    """l4 cut into IP fragments: cuts = [(offset, length[, more])]; more
    defaults to 'not the end of l4'. Bytes may be replaced: (offset, data, more)."""
    import struct
    out = []
    for cut in cuts:
        off, piece = cut[0], cut[1]
        if isinstance(piece, int):
            piece = l4[off:off + piece]
        more = cut[2] if len(cut) > 2 else off + len(piece) < len(l4)
        if v6:
            fh = struct.pack("!BBHI", 6, 0, off | int(more), ident)
            out.append(ip_frame(True, src, dst, fh + piece, nh=44))
        else:
            out.append(ip_frame(False, src, dst, piece, ident, (0x2000 if more else 0) | off // 8))
    return out


def smtp_session(v6, rcpt_frames=None, before_rcpt=(), rcpt_again=False):
    """A bogus session (EHLO localhost) whose RCPT segment is one frame, or
    rcpt_frames(v6, src, dst, l4) when given; before_rcpt: frames sent just
    before it; rcpt_again: the whole RCPT once more after it (the client's
    retransmission of a segment that never arrived)."""
    c, s = (C6, S6) if v6 else (C4, S4)
    seq = {"c": 1000, "s": 9000}
    frames = []

    def seg(client, flags, payload=b""):
        me, peer = ("c", "s") if client else ("s", "c")
        src, dst, sport, dport = (c, s, 40001, 25) if client else (s, c, 25, 40001)
        ack = seq[peer] if flags & ACK else 0
        l4 = tcp_segment(v6, src, dst, sport, dport, seq[me], ack, flags, payload)
        seq[me] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return l4, src, dst

    def send(client, flags, payload=b""):
        l4, src, dst = seg(client, flags, payload)
        frames.append(ip_frame(v6, src, dst, l4, RCPT_ID))

    send(True, SYN)
    send(False, SYN | ACK)
    send(True, ACK)
    send(False, PSH | ACK, b"220 mail.lab-mail.net ESMTP\r\n")
    send(True, ACK)
    send(True, PSH | ACK, b"EHLO localhost\r\n")
    send(False, PSH | ACK, b"250 mail.lab-mail.net\r\n")
    send(True, PSH | ACK, b"MAIL FROM:<a@example.org>\r\n")
    send(False, PSH | ACK, b"250 2.1.0 Ok\r\n")
    frames.extend(before_rcpt)
    l4, src, dst = seg(True, PSH | ACK, RCPT)
    whole = ip_frame(v6, src, dst, l4, RCPT_ID)
    frames.extend(rcpt_frames(v6, src, dst, l4) if rcpt_frames else [whole])
    if rcpt_again:
        frames.append(whole)
    send(False, PSH | ACK, b"250 2.1.5 Ok\r\n")
    send(True, PSH | ACK, b"QUIT\r\n")
    send(False, PSH | ACK, b"221 2.0.0 Bye\r\n")
    send(True, FIN | ACK)
    send(False, FIN | ACK)
    send(True, ACK)
    return frames


def replay_frames(work, name, frames, extra=()):
    """Write frames, replay them; return (events, total, output pcap) or None."""
    pcap = os.path.join(work, name + ".pcap")
    out = os.path.join(work, name + ".out.pcap")
    events = os.path.join(work, name + ".events.jsonl")
    stats = os.path.join(work, name + ".stats.json")
    write_pcap(pcap, frames)
    r = run([REPLAY, pcap, "-o", out, "--events", events, "--stats", stats] + LAB_OPTIONS +
            list(extra), env=dict(os.environ, HELOGATE=HELOGATE), timeout=120)
    if not check(r.returncode == 0, f"{name}: helogate-replay exits 0 by itself",
                 r.stderr.strip()[-2000:]):
        return None
    with open(stats) as f:
        st = json.load(f)
    check(st["mbufs_in_use"] == 0, f"{name}: every mbuf back in its pool", str(st["mbufs_in_use"]))
    check_accounting(name, st)
    return read_events(events), st["total"], out


def dropped(total, cause):
    return total["packets"]["dropped"].get(cause, 0)


FRAG_CAUSES = ("fragments_merged", "fragment_timeout_dropped", "fragment_overlap_dropped",
               "fragment_tiny_dropped", "fragment_table_full_dropped",
               "fragment_unsupported_dropped", "fragment_flushed_dropped")


def check_frag_counters(name, total, want):
    got = {c: dropped(total, c) for c in FRAG_CAUSES}
    exp = {c: want.get(c, 0) for c in FRAG_CAUSES}
    check(got == exp, f"{name}: fragment causes as defined", f"got {got} want {exp}")


def case_fragments(work):
    """An SMTP session whose RCPT segment arrives as IP fragments is judged
    like the plain session: the same events; in detect mode the server gets
    the same frames (the datagram reassembled, byte for byte the plain one);
    in enforce mode the RCPT is taken over and never reaches the server.
    Tiny, overlapping, repeated, timed-out fragments and a full fragment
    table drop fragments under their causes; the client's retransmission of
    the whole RCPT is then judged as usual. Every mbuf returns."""
    rcpt_len = 20 + len(RCPT)
    variants = {
        "two": [(0, 24), (24, 24)],
        "three": [(0, 24), (24, 16), (40, 8)],
        "three-reversed": [(40, 8), (24, 16), (0, 24)],
        "middle-first": [(24, 16), (0, 24), (40, 8)],
    }
    assert rcpt_len == 48
    for v6 in (False, True):
        fam = "ipv6" if v6 else "ipv4"
        base = {}
        for mode in ("detect", "enforce"):
            res = replay_frames(work, f"frag-{fam}-plain-{mode}", smtp_session(v6),
                                ["--mode", mode])
            if res is None:
                return
            base[mode] = res
            check(len(res[0]) >= 1, f"frag-{fam}-plain-{mode}: the bogus session is reported",
                  str(res[0]))
        check(base["enforce"][1]["takeovers"] == 1,
              f"frag-{fam}-plain-enforce: the RCPT is taken over")
        for vname, cuts in variants.items():
            for mode in ("detect", "enforce"):
                name = f"frag-{fam}-{vname}-{mode}"
                frames = smtp_session(v6, lambda v, s, d, l4: fragments(v, s, d, l4, cuts))
                res = replay_frames(work, name, frames, ["--mode", mode])
                if res is None:
                    continue
                events, total, out = res
                compare_events(name, base[mode][0], events)
                check_frag_counters(name, total, {"fragments_merged": len(cuts) - 1})
                if mode == "detect":
                    r = frames_equal(base[mode][2], out)
                    check(r.returncode == 0,
                          f"{name}: the server gets the plain session's frames", r.stdout + r.stderr)
                else:
                    check(total["takeovers"] == 1 and total["takeover_rejected_rcpts"] == 1,
                          f"{name}: the reassembled RCPT is taken over")
                    with open(out, "rb") as f:
                        sent = f.read()
                    check(b"RCPT" not in sent and b" TO:<bob@lab-mai" not in sent,
                          f"{name}: no RCPT byte reaches the server")

        # Dropped fragments. "again": the whole RCPT follows (the client's
        # retransmission), and only it reaches the server.
        bad = {
            "tiny-first": ([(0, 16), (16, 16), (32, 16)],
                           {"fragment_tiny_dropped": 1, "fragment_flushed_dropped": 2}, [], True),
            "offset-8": ([(0, 24), (8, 16, True), (24, 24)],
                         {"fragment_tiny_dropped": 1, "fragments_merged": 1}, [], False),
            "overlap": ([(0, 24), (16, b"X TO:<evil@x.y.z", True), (40, 8)],
                        {"fragment_overlap_dropped": 3}, [], True),
            "overlap-reversed": ([(40, 8), (16, b"X TO:<evil@x.y.z", True), (0, 24)],
                                 {"fragment_overlap_dropped": 3}, [], True),
            "duplicate": ([(0, 24), (24, 16), (24, 16), (40, 8)],
                          {"fragment_overlap_dropped": 4}, [], True),
            "timeout": ([(0, 24)], {"fragment_timeout_dropped": 1}, ["--frag-timeout", "100"],
                        True),
        }
        for vname, (cuts, want, extra, again) in bad.items():
            name = f"frag-{fam}-{vname}"
            frames = smtp_session(v6, lambda v, s, d, l4: fragments(v, s, d, l4, cuts),
                                  rcpt_again=again)
            res = replay_frames(work, name, frames, extra)
            if res is None:
                continue
            events, total, out = res
            compare_events(name, base["detect"][0], events)
            check_frag_counters(name, total, want)
            r = frames_equal(base["detect"][2], out)
            check(r.returncode == 0, f"{name}: the server gets the plain session's frames",
                  r.stdout + r.stderr)

        # A full table: another datagram holds the only slot, so every RCPT
        # fragment is refused; the retransmission goes through.
        c, s = (C6, S6) if v6 else (C4, S4)
        other = fragments(v6, c, s, tcp_segment(v6, c, s, 40002, 25, 1, 1, ACK, b"x" * 28),
                          [(0, 24)], ident=7)
        name = f"frag-{fam}-table-full"
        frames = smtp_session(v6, lambda v, s_, d, l4: fragments(v, s_, d, l4, variants["three"]),
                              before_rcpt=other, rcpt_again=True)
        res = replay_frames(work, name, frames, ["--frag-flows", "1"])
        if res is not None:
            events, total, out = res
            compare_events(name, base["detect"][0], events)
            check_frag_counters(name, total, {"fragment_table_full_dropped": 3,
                                              "fragment_flushed_dropped": 1})

    # IPv6: nine extension headers are more than helogate walks: dropped,
    # whatever the port (it cannot be known without walking further).
    opts = b"\x3c\x00\x01\x04\x00\x00\x00\x00"  # destination options, next: options
    chain = opts * 8 + b"\x06\x00\x01\x04\x00\x00\x00\x00"
    frames = [ip_frame(True, C6, S6, tcp_segment(True, C6, S6, 40003, port, 1, 0, SYN), nh=60,
                       exts=chain) for port in (25, 443)]
    res = replay_frames(work, "ipv6-chain-too-long", frames)
    if res is not None:
        events, total, out = res
        check(dropped(total, "ipv6_chain_dropped") == 2 and total["tx_packets"] == 0,
              "ipv6-chain-too-long: dropped on any port", str(total["packets"]))


def pcap_records(path):
    with open(path, "rb") as f:
        data = f.read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def address_pair(frame):
    """A frame's IP addresses, unordered: the distributor's key (and, for
    the SMTP sessions here, the session)."""
    off, etype = 12, frame[12:14]
    while etype in (b"\x81\x00", b"\x88\xa8"):
        off += 4
        etype = frame[off:off + 2]
    off += 2
    if etype == b"\x08\x00":
        a, b = frame[off + 12:off + 16], frame[off + 16:off + 20]
    elif etype == b"\x86\xdd":
        a, b = frame[off + 8:off + 24], frame[off + 24:off + 40]
    else:
        return None
    return (a, b) if a < b else (b, a)


def per_pair(path):
    flows = {}
    for fr in pcap_records(path):
        flows.setdefault(address_pair(fr), []).append(fr)
    return flows


def lcore_map(n_lcores):
    """lcore i on the i-th usable CPU, round robin (this machine may have
    two): several workers run correctly, if not fast, on fewer CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    return ",".join(f"{i}@{cpus[i % len(cpus)]}" for i in range(n_lcores))


# Counters that must not depend on how many workers there are: each
# session is judged once, by one worker that saw both directions.
SAME_WITH_WORKERS = ("rx_packets", "tx_packets", "flows_created", "flows_closed", "judged",
                     "helos", "commands", "replies", "takeovers", "takeover_rejected_rcpts",
                     "untracked_forwarded", "handshake_other_forwarded", "inspected_forwarded",
                     "injected_packets", "verdicts")


def case_workers(work):
    """Several workers on a port without RSS (net_pcap: one queue): the
    distributor lcore spreads sessions by a symmetric hash; N = 2 and 3
    workers give the 1-worker run's events and counters, every worker gets
    sessions, both directions of each session meet on one worker (else its
    server side would be untracked and nothing judged), each session's
    frames leave in their order, the takeovers happen, and the accounting
    closes at the ports (the rings empty at exit)."""
    mix = ["--profile", "smtp-mix", "--sessions", "3000", "--seed", "7", "--concurrency", "64",
           "--body-max", "8192"]
    flood = ["--profile", "bogus-flood", "--sessions", "400", "--seed", "5", "--concurrency", "16"]
    base = {}
    for kind, synth, extra in (("detect", mix, []), ("enforce", flood, ["--mode", "enforce"])):
        res = replay(work, f"workers-1-{kind}", synth, extra, full=True)
        if res is None:
            return
        base[kind] = res
    for n in (2, 3):
        env = {"HELOGATE_LCORES": lcore_map(n + 2)}
        for kind, synth, extra in (("detect", mix, []), ("enforce", flood, ["--mode", "enforce"])):
            name = f"workers-{n}-{kind}"
            res = replay(work, name, synth, extra, env, full=True)
            if res is None:
                continue
            expected, got, st, pcap, out, log = res
            b_expected, b_got, b_st = base[kind][:3]
            check(f"{n} worker(s), {kind} mode, single-port lab layout, distributed by lcore 1"
                  in log,
                  f"{name}: {n} workers behind the distributor (auto: net_pcap has no RSS)",
                  log[-600:])
            check("distributor" in st and st["distributor"]["workers_fed"] == n,
                  f"{name}: the stats show the distributor")
            compare_events(name, sorted(expected), sorted(got))
            check(sorted(got) == sorted(b_got), f"{name}: the events equal the 1-worker run's",
                  f"{len(got)} vs {len(b_got)}")
            per_worker = [(w["flows_created"], w["judged"]) for w in st["workers"]]
            check(len(per_worker) == n and all(f > 0 and j > 0 for f, j in per_worker),
                  f"{name}: every worker tracked and judged sessions", str(per_worker))
            # Retransmitted takeover replies follow the clock: not compared.
            same = [k for k in SAME_WITH_WORKERS
                    if kind == "detect" or k not in ("tx_packets", "injected_packets")]
            diff = [k for k in same if st["total"][k] != b_st["total"][k]]
            check(not diff, f"{name}: the counters equal the 1-worker run's (each session "
                  "judged once, both directions on one worker)",
                  str([(k, st["total"][k], b_st["total"][k]) for k in diff]))
            d = st["distributor"]
            check(d["received"] == st["total"]["rx_packets"] == sum(
                  lane["enqueued"] for lane in d["lanes"]) and d["ring_full_dropped"] == 0 and
                  d["flushed_dropped"] == 0 and d["in_rings"] == 0,
                  f"{name}: every packet read went to one worker; nothing lost in the rings",
                  str({k: v for k, v in d.items() if k != "packets"}))
            if kind == "detect":
                a, b = per_pair(pcap), per_pair(out)
                check(a == b, f"{name}: each session's frames leave unchanged and in order",
                      f"{sum(len(v) for v in a.values())} vs {sum(len(v) for v in b.values())} "
                      f"frames, {sum(1 for k in a if a[k] != b.get(k))} sessions differ")
            else:
                check(st["total"]["takeovers"] > 0 and st["total"]["takeovers"] ==
                      b_st["total"]["takeovers"], f"{name}: the takeovers happen as with one",
                      f"{st['total']['takeovers']} vs {b_st['total']['takeovers']}")
    # The explicit choices, and their one-line errors.
    pcap = os.path.join(work, "workers-1-detect.pcap")
    for lcores, extra, needle, rc in (
            (lcore_map(3), ["--distribute", "no"], "--distribute yes", 2),
            ("0,1", ["--distribute", "yes"], "two worker lcores", 2),
            (lcore_map(4), ["--distribute", "yes"], "distributed by lcore 1", 0)):
        r = run([REPLAY, pcap, "--no-summary"] + LAB_OPTIONS + extra,
                env=dict(os.environ, HELOGATE=HELOGATE, HELOGATE_LCORES=lcores))
        lines = [l for l in r.stderr.splitlines() if needle in l]
        check(r.returncode == rc and len(lines) == 1,
              f"workers: {lcores} {' '.join(extra)} -> exit {rc}, '{needle}'",
              f"rc={r.returncode} {r.stderr.strip()[-400:]}")


with tempfile.TemporaryDirectory(prefix="hg-replay-test-") as work:
    {"workers": case_workers, "mix": case_mix, "scenarios": case_scenarios, "errors": case_errors,
     "refused": case_refused, "enforce": case_enforce, "events": case_events,
     "cli": case_cli, "fragments": case_fragments}[CASE](work)
print(f"{'OK' if failures == 0 else 'FAILED'}: {failures} failure(s)")
sys.exit(1 if failures else 0)
