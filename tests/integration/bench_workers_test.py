#!/usr/bin/env python3
"""helogate-bench with N workers (correctness only, never a speed):

  N = 2 and 3 worker lcores mapped onto CPU 1 with --lcores (so it runs on
  a 2-CPU machine), every profile, cold and --warm; for each JSON line:
  the verdict check says ok, every worker handled packets, the per-worker
  packet counts add up to the total, and the line carries flow_state,
  pages and a per-class table whose shares add up to 1.

usage: bench_workers_test.py HELOGATE_BENCH
"""
import json
import subprocess
import sys

BENCH = sys.argv[1]
PROFILES = ["smtp-mix", "smtp-commands", "bogus-flood", "non-smtp", "enforce"]
MAPS = {2: "0@0,(1-2)@1", 3: "0@0,(1-3)@1"}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def run(n, warm):
    args = [BENCH, "--lcores", MAPS[n], "--no-huge", "--no-pci", "-m", "512", "--no-shconf",
            "--file-prefix", "hg-bench-workers", "--log-level", "error", "--",
            "--profile", "all", "--sessions", "50", "--seconds", "0.2", "--concurrent", "3000"]
    if warm:
        args.append("--warm")
    p = subprocess.run(args, capture_output=True, text=True, timeout=240)
    label = f"N={n}{' --warm' if warm else ''}"
    print(f"== {label}\n{p.stdout}{p.stderr}", end="")
    check(p.returncode == 0, f"{label}: exit status {p.returncode}")
    rows = [json.loads(l[5:]) for l in p.stdout.splitlines() if l.startswith("JSON ")]
    check([r["profile"] for r in rows] == PROFILES, f"{label}: profiles {[r['profile'] for r in rows]}")
    for r in rows:
        what = f"{label} {r['profile']}"
        check(r["verdicts_ok"] is True, f"{what}: verdicts_ok {r['verdicts_ok']}")
        check(r["workers"] == n, f"{what}: workers {r['workers']}")
        pw = r["packets_workers"]
        check(len(pw) == n and len(r["pps_workers"]) == n, f"{what}: {len(pw)} per-worker counts")
        check(all(c > 0 for c in pw), f"{what}: a worker handled no packet: {pw}")
        check(sum(pw) == r["packets"], f"{what}: per-worker packets {pw} add up to {sum(pw)}, "
              f"not {r['packets']}")
        check(r["flow_state"] == ("warm" if warm else "cold"), f"{what}: flow_state {r['flow_state']}")
        check(r["pages"] in ("4k", "2m", "1g"), f"{what}: pages {r['pages']}")
        shares = sum(c["share"] for c in r["classes"].values())
        check(abs(shares - 1) < 0.01, f"{what}: class shares add up to {shares}")


run(2, False)
run(3, False)
run(2, True)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
