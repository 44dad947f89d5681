#!/usr/bin/env python3
"""Integration tests: synthesized captures replayed through the real helogate.

usage: replay_test.py SOURCE_ROOT BUILD_ROOT CASE
CASE: mix | scenarios | errors | refused

Each case runs helogate-synth to write a capture and the events helogate
should report, replays the capture through scripts/helogate-replay (the real
binary on net_pcap, single-port lab mode, detect mode), and checks:
  - the events equal the expected ones (client, server, command, helo,
    reason, rcpt), no more and no less;
  - the output capture equals the input frame for frame, except where a
    scenario defines drops, which the counters must show;
  - every mbuf is back in its pool when helogate exits.
Prints one PASS/FAIL line per check; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

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


def replay(work, name, synth_args, extra=()):
    """Synthesize, replay; return (expected, events, stats, input, output)."""
    pcap = os.path.join(work, name + ".pcap")
    expect = os.path.join(work, name + ".expected.jsonl")
    out = os.path.join(work, name + ".out.pcap")
    events = os.path.join(work, name + ".events.jsonl")
    stats = os.path.join(work, name + ".stats.json")
    r = run([SYNTH, "-o", pcap, "--expect", expect] + synth_args)
    if not check(r.returncode == 0, f"{name}: helogate-synth runs", r.stderr.strip()):
        return None
    r = run([REPLAY, pcap, "-o", out, "--events", events, "--stats", stats] + LAB_OPTIONS +
            list(extra), env=dict(os.environ, HELOGATE=HELOGATE))
    if not check(r.returncode == 0, f"{name}: helogate-replay exits 0 by itself",
                 r.stderr.strip()[-2000:]):
        return None
    with open(stats) as f:
        st = json.load(f)
    check(st["mbufs_in_use"] == 0, f"{name}: every mbuf back in its pool",
          str(st["mbufs_in_use"]))
    check_accounting(name, st)
    return read_events(expect), read_events(events), st["total"], pcap, out


def check_accounting(name, st):
    """received + injected = transmitted + dropped (by cause) + held, in
    the total and in every worker; at exit nothing is held."""
    for label, obj in [("total", st["total"])] + [
            (f"worker {i}", w) for i, w in enumerate(st["workers"])]:
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
    "syn-flood": ({"flows_table_full": 977}, True, ["--flows", "1024"]),
    "third-party-rst": ({"rst_out_of_window_dropped": 1}, False, []),
    "conflicting-retransmit": ({"stream.drop-conflict": 1, "flows_tainted": 1}, False, []),
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


with tempfile.TemporaryDirectory(prefix="hg-replay-test-") as work:
    {"mix": case_mix, "scenarios": case_scenarios, "errors": case_errors,
     "refused": case_refused, "enforce": case_enforce}[CASE](work)
print(f"{'OK' if failures == 0 else 'FAILED'}: {failures} failure(s)")
sys.exit(1 if failures else 0)
