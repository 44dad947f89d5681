#!/usr/bin/env python3
"""The live console through a pseudo-terminal, as an operator uses it:

  helogate -i --stats-period 1 on net_pcap, replaying a synthesized capture
  (half the sessions bogus) in a loop (infinite_rx), in detect mode:
  - every second a timestamped block: a line per worker and a total line
    with rx/tx pps, sessions/s, judged/s, bogus/s, events/s and the levels
    (flows, blocks, mbufs);
  - show verdicts: judged, nothing rejected; set mode enforce reaches the
    workers: RCPTs are rejected from then on; show config says so;
  - clear stats: show stats counts from zero (a baseline, not a write);
  - show workers, set action (applied from the next burst, shown live),
    an unknown reason, reload (the SIGHUP path), an unknown
    command, quit (exit 0);
  - the end of the console's input stops helogate too;
  - --events - with -i or --stats-period is refused (both own stdout).

usage: console_test.py SOURCE_ROOT BUILD_ROOT
"""
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from live import Live  # noqa: E402

SRC, BUILD = sys.argv[1], sys.argv[2]
HELOGATE = os.path.join(BUILD, "app", "helogate")
SYNTH = os.path.join(BUILD, "app", "helogate-synth")
BANLIST = os.path.join(SRC, "tests", "data", "banlist.txt")
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail))
    if not ok:
        failures += 1
    return ok


class Console:
    def __init__(self, pcap, extra=()):
        self.master, slave = pty.openpty()
        vdev = f"net_pcap0,rx_pcap={pcap},tx_pcap=/dev/null,infinite_rx=1"
        self.h = Live(HELOGATE, "hg-con", ["--single-port", "0", "--banlist", BANLIST,
                                           "--local-domain", "lab-mail.net", "-i",
                                           "--stats-period", "1"] + list(extra),
                      vdevs=[vdev], stdin=slave, stdout=slave, shconf=False)
        os.close(slave)
        self.out = ""

    def read(self, seconds, until=None):
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    self.out += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    return False
                if until and re.search(until, self.out):
                    return True
        return False

    def command(self, line, until=r"helogate> $"):
        """The text a command printed (the prompt after it excluded)."""
        start = len(self.out)
        os.write(self.master, (line + "\n").encode())
        self.read(10, until)
        text = self.out[start:]
        return text.replace("\r", "")


def number(text, label):
    m = re.search(r"\b" + re.escape(label) + r" +(\d+)", text)
    return int(m.group(1)) if m else -1


def verdict_rows(text):
    rows = {}
    # reason, judged, rejected, detected, action
    for m in re.finditer(r"^  ([a-z-]+) +(\d+) +(\d+) +(\d+)  (\w+)", text, re.M):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(5), int(m.group(4)))
    return rows


def main():
    for args, want in [(["--", "-i", "--events", "-"], "--interactive"),
                       (["--", "--stats-period", "1", "--events", "-"], "--stats-period")]:
        r = subprocess.run([HELOGATE] + args, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "--events - conflicts with " + want in r.stderr,
              f"{' '.join(args[1:])} is refused", r.stderr)
    with tempfile.TemporaryDirectory() as work:
        pcap = os.path.join(work, "loop.pcap")
        r = subprocess.run([SYNTH, "-o", pcap, "--profile", "smtp-mix", "--sessions", "40",
                            "--seed", "5", "--bogus-ratio", "0.5", "--body-max", "2048"],
                           capture_output=True, text=True, timeout=120)
        if not check(r.returncode == 0, "helogate-synth writes a capture", r.stderr):
            sys.exit(1)
        c = Console(pcap)
        try:
            check(c.h.wait_ready(), "helogate starts with the console", c.h.stderr()[-800:])
            c.read(20, r"(?s)----.*----.*total[^\n]*mbufs \d+")
            blocks = re.findall(r"---- (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) helogate stats, "
                                r"last [\d.]+ s, detect mode ----\r?\n  worker 0 +(.*)\r?\n"
                                r"  total +(.*)", c.out)
            ok = bool(blocks)
            if ok:
                w, t = blocks[-1][1], blocks[-1][2]
                fields = dict(re.findall(r"([a-z/-]+) +([\d.]+)", t))
                ok = (all(k in fields for k in ("rx-pps", "tx-pps", "sessions/s", "judged/s",
                                                "bogus/s", "events/s", "flows", "blocks",
                                                "mbufs"))
                      and float(fields["rx-pps"]) > 0 and "flows" in w and "blocks" in w)
            check(ok, "--stats-period: a timestamped block per worker and in total, rates and "
                  "levels", c.out[-1500:])
            v = verdict_rows(c.command("show verdicts"))
            check(sum(x[0] for r, x in v.items() if r != "ok") > 0 and
                  all(x[1] == 0 and x[2] in ("detect", "pass") for x in v.values()),
                  "show verdicts: bogus HELOs judged, none rejected in detect mode", str(v))
            text = c.command("set mode enforce")
            check("mode enforce (was detect)" in text, "set mode enforce answers", text)
            time.sleep(2)
            v = verdict_rows(c.command("show verdicts"))
            check(sum(x[1] for x in v.values()) > 0 and v["banned"][2] == "enforce",
                  "set mode enforce reaches the workers: RCPTs rejected", str(v))
            text = c.command("show config")
            check("enforce (configured detect)" in text and "lab-mail.net" in text,
                  "show config: the live mode and the settings", text)
            before = number(c.command("show stats"), "received")
            text = c.command("clear stats")
            check("cleared" in text, "clear stats answers", text)
            text = c.command("show stats")
            after = number(text, "received")
            check("since clear stats" in text and 0 <= after < before and "enforce mode" in text,
                  "clear stats: show stats counts from the baseline", f"{before} → {after}: {text}")
            text = c.command("show workers")
            check(re.search(r"worker +packets +transmitted +flows +blocks +events", text) and
                  re.search(r"^  0 +\d+", text, re.M), "show workers: one row per worker", text)
            text = c.command("set action banned off")
            check("action off for banned" in text, "set action: applied", text)
            check(re.search(r"banned .* off \(set live\)", c.command("show verdicts")),
                  "show verdicts shows the live action")
            text = c.command("set action bogus detect")
            check("unknown bogus reason 'bogus'" in text, "set action: an unknown reason", text)
            text = c.command("reload")
            time.sleep(0.5)
            check("reload requested" in text and "policy reloaded" in c.h.stderr(),
                  "reload takes the SIGHUP path", text + c.h.stderr()[-300:])
            check("Command not found" in c.command("shwo stats"), "an unknown command is said")
            text = c.command("quit", until="stopping")
            rc = c.h.proc.wait(30)
            check(rc == 0 and "stopping" in text, "quit stops helogate, exit 0",
                  f"rc={rc} {c.h.stderr()[-500:]}")
        finally:
            c.h.stop()
            os.close(c.master)
        c = Console(pcap)
        try:
            c.h.wait_ready()
            c.read(2)
            os.close(c.master)
            try:
                rc = c.h.proc.wait(30)
            except subprocess.TimeoutExpired:
                rc = None
            check(rc == 0, "the end of console input stops helogate", f"rc={rc}")
        finally:
            c.h.stop()
    sys.exit(1 if failures else 0)


main()
