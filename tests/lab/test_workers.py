#!/usr/bin/env python3
"""Lab test 11: several workers, live (issue 12, item 4).

Three labs, one after the other, each with good and bogus sessions at once
(HG_LAB_WORKERS_SESSIONS of each, default 40; smtp-source, concurrency 10):
- "workers-2" and "workers-3": net_af_packet with qpairs=2 (3) and as many
  worker lcores, every worker reading its own queue. The kernel fills the
  queues of a PACKET_FANOUT_HASH group by its symmetric flow hash (the
  lab's one client address, many client ports: sessions spread).
- "workers-distributed": qpairs=1, 3 worker lcores and --distribute yes: the
  distributor lcore feeds two workers over rings and sends what they hand back (net_af_packet
  has one TX queue). Its hash takes the IP addresses only, so the lab's one
  client puts every session on one worker: this lab proves the rings live
  (correctness, takeovers), not the spread (tests/integration 'workers').
Asserts, in each: every good message is delivered; every bogus session got
the exact 550 for its own recipient and one "rejected" event (each session
judged once: judged = sessions); no session stuck in its handshake (both
directions on one worker: a SYN-ACK on another worker would leave the
client's ACK handshake_other_forwarded and the session unjudged); per
worker and at the ports the accounting closes; with fanout every worker
tracked and judged sessions.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

N = int(os.environ.get("HG_LAB_WORKERS_SESSIONS", "40"))
SERVER = K.SERVER_IP + ":25"


def lcore_map(n_lcores):
    """lcore i on the i-th usable CPU, round robin (several workers on a
    machine with fewer CPUs: correct, not fast)."""
    cpus = sorted(os.sched_getaffinity(0))
    return ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(n_lcores))


def make_body(tag):
    def body(t, lab):
        before = lab.count_messages()
        good = subprocess.Popen(
            [K.LABSH, "client", "timeout", "-k", "5", "120", "smtp-source", "-s", "10",
             "-m", str(N), "-l", "500", "-M", "mail.example.org",
             "-f", "workers-good@example.org", "-t", "good@lab-mail.net", SERVER],
            env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        one = ("exec timeout -k 2 30 smtp-source -m 1 -M localhost -f workers-bogus@example.org "
               "-t %s$0@lab-mail.net %s" % (tag, SERVER))
        bogus = subprocess.Popen(
            [K.LABSH, "client", "timeout", "-k", "5", "120", "bash", "-c",
             "seq %d | xargs -P 20 -n 1 sh -c '%s'" % (N, one)],
            env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gout, gerr = good.communicate(timeout=150)
        bout, berr = bogus.communicate(timeout=150)
        lab.save("smtp-source-good", gout + gerr)
        lab.save("smtp-source-bogus", bout + berr)
        t.check(good.returncode == 0, "good sessions: smtp-source ran to its end (%d)" % N,
                "exit %d: %s" % (good.returncode, gerr[-300:]))
        rejected = set()
        for line in berr.splitlines():
            m = re.search(r"recipient rejected: 550 5\.7\.1 %s(\d+)@lab-mail\.net\.\.\. "
                          r"Access denied - bogus HELO$" % tag, line)
            if m:
                rejected.add(int(m.group(1)))
        t.equal(len(rejected), N, "bogus sessions: each got the exact 550 for its RCPT")
        deadline = time.time() + 60
        while lab.count_messages() - before < N and time.time() < deadline:
            time.sleep(0.25)
        t.equal(lab.count_messages() - before, N, "every good message is delivered")
        ev = [e for e in lab.events() if e.get("action") == "rejected"]
        got = sorted(int(m.group(1)) for e in ev
                     for m in [re.fullmatch(r"%s(\d+)@lab-mail\.net" % tag, e.get("rcpt", ""))]
                     if m)
        t.equal(got, list(range(1, N + 1)), "one 'rejected' event per bogus session")
    return body


def make_post(workers, distributed):
    def post(t, lab):
        st = lab.stats()
        total = st["total"]
        t.equal(len(st["workers"]), workers, "helogate ran %d workers" % workers)
        t.equal(total["takeovers"], N, "one takeover per bogus session")
        t.equal(total["rejected"]["localhost"], N, "rejected.localhost: each session judged once")
        # A server side on another worker than its client side: the
        # client's ACK would find its session still waiting for the SYN-ACK
        # (handshake_other_forwarded) and nothing would be judged.
        t.equal(total["judged"], 2 * N, "judged: every session once (good and bogus)")
        for name in ("handshake_other_forwarded", "flows_table_full", "events_dropped"):
            t.equal(total[name], 0, "%s is 0" % name)
        per = [(w["flows_created"], w["judged"]) for w in st["workers"]]
        for i, w in enumerate(st["workers"]):
            p = w["packets"]
            t.check(p["received"] + p["injected"] == p["transmitted"] +
                    sum(p["dropped"].values()) + p["held"],
                    "worker %d: every packet ended in one cause" % i)
        if distributed:
            d = st.get("distributor")
            if t.check(d is not None, "the stats show the distributor"):
                p = d["packets"]
                t.check(p["received"] + p["injected"] == p["transmitted"] +
                        sum(p["dropped"].values()) + p["held"] and p["held"] == 0,
                        "at the ports: every packet ended in one cause, nothing held",
                        str(p))
                t.equal(d["ring_full_dropped"] + d["tx_failed"], 0,
                        "the distributor lost nothing")
        else:
            t.check(all(f > 0 and j > 0 for f, j in per),
                    "every worker tracked and judged sessions (kernel fanout)", str(per))
        print("   per worker (flows, judged): %s" % per, flush=True)
    return post


def main():
    rc = 0
    for name, qpairs, lcores, extra, workers, distributed in (
            ("workers-2", 2, 3, (), 2, False),
            ("workers-3", 3, 4, (), 3, False),
            ("workers-distributed", 1, 4, ("--distribute", "yes"), 2, True)):
        os.environ["HG_LAB_QPAIRS"] = str(qpairs)
        os.environ["HELOGATE_LCORES"] = lcore_map(lcores)
        tag = "w" + name.split("-", 1)[1].replace("-", "")
        r = K.run_test(name, make_body(tag), post=make_post(workers, distributed),
                       quiet_server=True, extra=extra)
        if r == 77:
            return 77
        rc = rc or r
    return rc


if __name__ == "__main__":
    sys.exit(main())
