#!/usr/bin/env python3
"""Telemetry against a live helogate (DPDK's telemetry socket,
/var/run/dpdk/PREFIX/dpdk_telemetry.v2):

  - a synthesized capture (every bogus reason) is read once through
    net_pcap in single-port detect mode; helogate keeps running, so once
    every packet is in, the answers are final and exact;
  - /helogate/stats: every counter, the accounting object "packets"
    (received + injected = transmitted + dropped + held), the mode;
  - /helogate/verdicts: per reason, judged equals the events helogate-synth
    expects for that reason; ",REASON" gives one reason;
  - /helogate/workers: one column entry per worker, ",0" one worker, a
    worker that does not exist answers null;
  - /helogate/config: the running configuration;
  - /helogate/mode,enforce switches the live mode (what an operator of the
    systemd service, which has no console, uses);
  - dpdk-telemetry.py (Debian's dpdk-dev) gives the same answers;
  - dpdk-dumpcap captures from a running instance when hugepages exist
    (it attaches as a secondary process, which --no-huge memory cannot
    serve); otherwise that check is reported as skipped.

usage: telemetry_test.py SOURCE_ROOT BUILD_ROOT
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from live import Live  # noqa: E402

SRC, BUILD = sys.argv[1], sys.argv[2]
HELOGATE = os.path.join(BUILD, "app", "helogate")
SYNTH = os.path.join(BUILD, "app", "helogate-synth")
OPTIONS = ["--single-port", "0", "--banlist", os.path.join(SRC, "tests", "data", "banlist.txt"),
           "--local-domain", "lab-mail.net", "--sensor-name", "tel-1"]
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail))
    if not ok:
        failures += 1
    return ok


def pcap_count(path):
    with open(path, "rb") as f:
        data = f.read()
    n, off = 0, 24
    while off + 16 <= len(data):
        incl = int.from_bytes(data[off + 8:off + 12], "little")
        off += 16 + incl
        n += 1
    return n


def wait_drained(h, packets, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = h.telemetry("/helogate/stats")
        if st and st["rx_packets"] >= packets and st["packets"]["held"] == 0:
            time.sleep(0.3)  # the last burst's counters and events settle
            return h.telemetry("/helogate/stats")
        time.sleep(0.2)
    return None


def dumpcap_check(work):
    free = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                free = int(line.split()[1])
    if shutil.which("dpdk-dumpcap") is None or free < 256:
        print(f"SKIP dpdk-dumpcap: needs hugepages (free 2 MiB pages: {free}) and dpdk-dumpcap; "
              "a --no-huge primary cannot serve a secondary process")
        return
    with Live(HELOGATE, "hg-dump", huge=True) as h:
        if not check(h.wait_ready(), "dumpcap: helogate runs on hugepages", h.stderr()[-500:]):
            return
        out = os.path.join(work, "cap.pcapng")
        r = subprocess.run(["dpdk-dumpcap", "--file-prefix", h.prefix, "-i", "net_null0",
                            "-c", "100", "-w", out], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and os.path.getsize(out) > 0,
              "dumpcap: dpdk-dumpcap captures 100 packets from a running helogate",
              (r.stdout + r.stderr)[-500:])


def main():
    with tempfile.TemporaryDirectory() as work:
        pcap, expect = os.path.join(work, "mix.pcap"), os.path.join(work, "expect.jsonl")
        r = subprocess.run([SYNTH, "-o", pcap, "--expect", expect, "--profile", "smtp-mix",
                            "--sessions", "300", "--seed", "11", "--bogus-ratio", "0.5"],
                           capture_output=True, text=True, timeout=120)
        if not check(r.returncode == 0, "helogate-synth writes a capture", r.stderr):
            sys.exit(1)
        expected = collections.Counter()
        with open(expect) as f:
            for line in f:
                expected[json.loads(line)["reason"]] += 1
        packets = pcap_count(pcap)
        vdev = f"net_pcap0,rx_pcap={pcap},tx_pcap={os.path.join(work, 'out.pcap')}"
        with Live(HELOGATE, "hg-tel", OPTIONS, vdevs=[vdev]) as h:
            if not check(h.wait_ready(), "helogate starts", h.stderr()[-1000:]):
                sys.exit(1)
            st = wait_drained(h, packets)
            if not check(st is not None, f"/helogate/stats: all {packets} packets received",
                         json.dumps(h.telemetry("/helogate/stats"))[:300]):
                sys.exit(1)
            p = st["packets"]
            check(p["received"] == packets and p["received"] + p["injected"] ==
                  p["transmitted"] + sum(p["dropped"].values()) + p["held"],
                  "/helogate/stats: the accounting identity holds", json.dumps(p))
            check(st["mode"] == "detect" and st["workers"] == 1 and st["flows_created"] >= 300
                  and st["mbufs_in_use"] >= 0 and "fast_path" in st and "judged" in st,
                  "/helogate/stats: counters, causes, mode, workers", json.dumps(st)[:400])
            v = h.telemetry("/helogate/verdicts")
            judged = dict(zip(v["reason"], v["judged"]))
            bogus = {r: n for r, n in judged.items() if r != "ok" and n}
            check(bogus == dict(expected), "/helogate/verdicts: judged per reason equals the "
                  "expected events", f"{bogus} != {dict(expected)}")
            check(len(v["rejected"]) == len(v["reason"]) and sum(v["rejected"]) == 0,
                  "/helogate/verdicts: nothing rejected in detect mode", json.dumps(v))
            one = h.telemetry("/helogate/verdicts,banned")
            check(one == {"reason": "banned", "judged": judged["banned"], "rejected": 0,
                          "detected": judged["banned"]},
                  "/helogate/verdicts,banned: one reason", json.dumps(one))
            w = h.telemetry("/helogate/workers")
            check(w["worker"] == [0] and w["packets"] == [packets] and w["drops"] == [0] and
                  w["events"] == [sum(expected.values())] and len(w["flows"]) == 1 and
                  len(w["blocks"]) == 1, "/helogate/workers: one worker's figures", json.dumps(w))
            check(h.telemetry("/helogate/workers,0")["packets"] == packets and
                  h.telemetry("/helogate/workers,7") is None,
                  "/helogate/workers,N: one worker; a missing one answers null")
            c = h.telemetry("/helogate/config")
            check(c["mode"] == "detect" and c["layout"] == "single-port" and
                  c["local_domain"] == ["lab-mail.net"] and c["sensor_name"] == "tel-1" and
                  c["smtp_port"] == [25], "/helogate/config: the running configuration",
                  json.dumps(c))
            m = h.telemetry("/helogate/mode,enforce")
            check(m == {"mode": "enforce", "configured_mode": "detect"} and
                  h.telemetry("/helogate/config")["mode"] == "enforce" and
                  h.telemetry("/helogate/mode,audit") is None and
                  h.telemetry("/helogate/mode")["mode"] == "enforce",
                  "/helogate/mode: sets the live mode; a bad value answers null", json.dumps(m))
            tool = shutil.which("dpdk-telemetry.py")
            if tool is None:
                print("SKIP dpdk-telemetry.py: not installed (Debian package dpdk-dev)")
            else:
                r = subprocess.run([tool, "-f", h.prefix], input="/helogate/workers\n",
                                   capture_output=True, text=True, timeout=30)
                answers = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
                check(r.returncode == 0 and any(a.get("/helogate/workers") == w for a in answers),
                      "dpdk-telemetry.py reads /helogate/workers", r.stdout[-500:] + r.stderr)
            check("capture (dpdk-dumpcap) unavailable" not in h.stderr(),
                  "rte_pdump_init succeeds with the shared configuration", h.stderr()[-500:])
            rc = h.stop()
            check(rc == 0, "helogate exits 0", f"rc={rc} {h.stderr()[-500:]}")
        dumpcap_check(work)
    sys.exit(1 if failures else 0)


main()
