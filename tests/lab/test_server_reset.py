#!/usr/bin/env python3
"""Lab test 9: the server resets live sessions under load.

smtp-source runs good sessions (20 at a time, 20 KB messages) through
helogate; after 1.5 s Postfix is stopped, so its smtpd processes die and
the server's kernel resets every live session (RSTs from the inside port in
every state: mid-command, mid-DATA). Three such cycles, then Postfix starts
again. Asserts: helogate
is still running and forwarding (a new good session is delivered through
it), the clients' sessions all ended (no socket left but TIME-WAIT), and
when stopped helogate exits cleanly with every mbuf back in its pool.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402


CYCLES = 3


def body(t, lab):
    for cycle in range(1, CYCLES + 1):
        load = subprocess.Popen(
            [K.LABSH, "client", "timeout", "-k", "5", "20", "smtp-source", "-s", "20",
             "-m", "100000", "-l", "20000", "-M", "mail.example.org", "-f", "reset@example.org",
             "-t", "reset@lab-mail.net", K.SERVER_IP + ":25"],
            env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        delivered = lab.count_messages()
        r = lab.postfix("stop")
        t.check(r.returncode == 0, "cycle %d: Postfix stopped under load (its sessions reset)"
                % cycle, r.stderr)
        out, err = load.communicate(timeout=60)
        lab.save("smtp-source-%d" % cycle, out + err)
        t.check(delivered > 0, "cycle %d: sessions were delivered before the stop (%d in all)"
                % (cycle, delivered))
        t.check(load.returncode not in (0, 124, 137),
                "cycle %d: smtp-source saw its sessions end with an error (exit %d)"
                % (cycle, load.returncode), err[-200:])
        if K.BRIDGE == "helogate" and not t.check(
                lab.helogate_exited() is None, "cycle %d: helogate is still running" % cycle,
                "it exited with status %s" % lab.helogate_exited()):
            return
        if cycle < CYCLES:
            r = lab.postfix("start")
            t.check(r.returncode == 0, "cycle %d: Postfix started again" % cycle, r.stderr)
            time.sleep(0.3)
    r = lab.postfix("start")
    t.check(r.returncode == 0, "Postfix started again", r.stderr)
    time.sleep(0.5)
    tok = "hg-after-reset-%d" % os.getpid()
    sw = lab.swaks("mail.example.org", "again@lab-mail.net", "--body", tok, "--timeout", "10")
    t.check(any(x.startswith("250 2.0.0 Ok: queued as ") for x in sw.replies),
            "after the resets a new good session goes through", sw.tail())
    t.check(lab.wait_message(tok) is not None, "and its message is delivered")
    for side in ("client", "server"):
        t.equal(lab.lingering(side, 2.0)[:5], [],
                "%s: no connection on :25 left but TIME-WAIT (2 s grace)" % side)


if __name__ == "__main__":
    sys.exit(K.run_test("server_reset", body, quiet_server=True, needs_helogate=False))
