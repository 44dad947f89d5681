#!/usr/bin/env python3
"""scripts/helogate-replay as an audit tool:

  - --help prints the usage and exits 0 without running helogate;
  - the closing summary on stderr: packets, sessions, judged, judged per
    reason (equal to the expected events for bogus reasons), the ten most
    frequent bogus clients and HELOs with their counts (equal to counting
    the events file), only this replay's events when the file existed;
  - without --events the summary still lists clients and HELOs (a
    temporary file, removed);
  - --progress prints progress lines read from helogate's telemetry;
  - a capture of the client side only gets a warning that no server reply
    was seen; --no-summary prints no summary.

usage: replay_audit_test.py SOURCE_ROOT BUILD_ROOT
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

SRC, BUILD = sys.argv[1], sys.argv[2]
REPLAY = os.path.join(SRC, "scripts", "helogate-replay")
SYNTH = os.path.join(BUILD, "app", "helogate-synth")
ENV = dict(os.environ, HELOGATE=os.path.join(BUILD, "app", "helogate"), HELOGATE_PROGRESS_S="0.2")
OPTIONS = ["--banlist", os.path.join(SRC, "tests", "data", "banlist.txt"),
           "--local-domain", "lab-mail.net"]
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail))
    if not ok:
        failures += 1
    return ok


def replay(*args, env=None):
    return subprocess.run([REPLAY] + list(args), capture_output=True, text=True,
                          env=env or ENV, timeout=300)


def summary_lines(stderr):
    return [l[len("helogate-replay: "):] for l in stderr.splitlines()
            if l.startswith("helogate-replay: ")]


def listed(lines, title):
    """The (count, name) rows under a 'top ...' title."""
    rows, inside = [], False
    for l in lines:
        if l.startswith("  top "):
            inside = l.startswith("  top " + title)
            continue
        m = re.match(r"^ {4} *(\d+)  (.*)$", l)
        if inside and m:
            rows.append((int(m.group(1)), m.group(2)))
        elif inside:
            inside = False
    return rows


def client_side_only(src, dst):
    """Keep the frames whose TCP destination port is 25 (IPv4 and IPv6)."""
    with open(src, "rb") as f:
        data = f.read()
    out, off = [data[:24]], 24
    while off + 16 <= len(data):
        incl = int.from_bytes(data[off + 8:off + 12], "little")
        frame = data[off + 16:off + 16 + incl]
        ethertype = int.from_bytes(frame[12:14], "big")
        l4 = 14 + (frame[14] & 0x0F) * 4 if ethertype == 0x0800 else 14 + 40
        if int.from_bytes(frame[l4 + 2:l4 + 4], "big") == 25:
            out.append(data[off:off + 16 + incl])
        off += 16 + incl
    with open(dst, "wb") as f:
        f.write(b"".join(out))


def main():
    r = subprocess.run([REPLAY, "--help"], capture_output=True, text=True, env=ENV, timeout=30)
    check(r.returncode == 0 and "usage: helogate-replay IN.pcap" in r.stdout and
          "--progress" in r.stdout and "--no-summary" in r.stdout and "EAL" not in r.stderr,
          "--help prints the usage without running helogate", r.stdout[:200] + r.stderr)
    with tempfile.TemporaryDirectory() as work:
        pcap, expect = os.path.join(work, "mix.pcap"), os.path.join(work, "expect.jsonl")
        r = subprocess.run([SYNTH, "-o", pcap, "--expect", expect, "--profile", "smtp-mix",
                            "--sessions", "300", "--seed", "3", "--bogus-ratio", "0.5"],
                           capture_output=True, text=True, timeout=120)
        if not check(r.returncode == 0, "helogate-synth writes a capture", r.stderr):
            sys.exit(1)
        with open(expect) as f:
            expected = [json.loads(l) for l in f]
        reasons = collections.Counter(e["reason"] for e in expected)

        events = os.path.join(work, "events.jsonl")
        with open(events, "w") as f:
            f.write('{"event_type":"smtp_helo","src_ip":"192.0.2.99","smtp":{"helo":"old"}}\n')
        r = replay(pcap, "--events", events, "--progress", *OPTIONS)
        lines = summary_lines(r.stderr)
        check(r.returncode == 0, "a replay with --progress exits 0", r.stderr[-800:])
        check(any(l.startswith("progress ") and "packets" in l for l in lines),
              "--progress: progress lines from telemetry", r.stderr[-800:])
        head = next((l for l in lines if l.startswith("  packets ")), "")
        check(re.search(r"sessions 300, HELOs judged \d+ \(\d+ bogus\)", head) is not None,
              "summary: packets, sessions, judged", head)
        per = next((l for l in lines if l.startswith("  judged per reason: ")), "")
        got = dict((k, int(v)) for k, v in re.findall(r"([a-z-]+) (\d+)", per))
        check({k: v for k, v in got.items() if k != "ok"} == dict(reasons),
              "summary: judged per bogus reason equals the expected events",
              f"{per} vs {dict(reasons)}")
        with open(events) as f:
            mine = [json.loads(l) for l in f][1:]
        clients = collections.Counter(e["src_ip"] for e in mine)
        helos = collections.Counter(e["smtp"]["helo"] for e in mine)
        top_clients, top_helos = listed(lines, "bogus clients"), listed(lines, "bogus HELOs")
        check(len(top_clients) == 10 and all(clients[n] == c for c, n in top_clients) and
              top_clients[0][0] == clients.most_common(1)[0][1] and
              "192.0.2.99" not in dict((n, c) for c, n in top_clients),
              "summary: the top 10 clients of this replay's events, with their counts",
              str(top_clients))
        check(len(top_helos) == 10 and all(helos[n] == c for c, n in top_helos) and
              top_helos[0][0] == helos.most_common(1)[0][1],
              "summary: the top 10 HELOs, with their counts", str(top_helos))
        check(not any("warning" in l for l in lines), "no warning for a two-sided capture")

        # A temporary directory of its own: other replays on the machine
        # (parallel test runs) leave theirs in /tmp while they run.
        private_tmp = os.path.join(work, "tmp")
        os.mkdir(private_tmp)
        r = replay(pcap, *OPTIONS, env=dict(ENV, TMPDIR=private_tmp))
        lines = summary_lines(r.stderr)
        check(r.returncode == 0 and len(listed(lines, "bogus HELOs")) == 10,
              "without --events the summary still lists HELOs", r.stderr[-500:])
        check(os.listdir(private_tmp) == [], "the temporary events and stats files are removed",
              str(os.listdir(private_tmp)))

        half = os.path.join(work, "clients-only.pcap")
        client_side_only(pcap, half)
        r = replay(half, *OPTIONS)
        check(r.returncode == 0 and "warning: no SMTP reply from a server was seen" in r.stderr,
              "a client-side-only capture gets the one-direction warning", r.stderr[-600:])
        r = replay(pcap, "--no-summary", *OPTIONS)
        check(r.returncode == 0 and "summary of" not in r.stderr, "--no-summary: none",
              r.stderr[-300:])
    sys.exit(1 if failures else 0)


main()
