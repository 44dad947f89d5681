#!/usr/bin/env python3
"""Lab test 7: thousands of sessions, half of them bogus, through helogate.

HG_LAB_LOAD sessions (default 2000), concurrency 20, all under `timeout`:
- good half: one smtp-source run, HELO mail.example.org, 10 sessions at a
  time, one message per session;
- bogus half: smtp-source stops at its first rejected recipient, so one
  smtp-source per session (HELO localhost, recipient bogusK@lab-mail.net)
  through xargs. Its fatal exit sleeps 1 s (Postfix's msg_fatal) with the
  connection open and then resets it (SO_LINGER 0), so HG_LAB_LOAD_PAR
  (default 50) processes run at once to keep ~10 sessions active.
Asserts: every good message is delivered (Maildir count); every bogus
session got the exact 550 for its own recipient (smtp-source's stderr) and
one "rejected" event; the server's log shows each good session complete and
each bogus one ending after MAIL, never a RCPT from a bogus session; after a
short grace no TCP connection on :25 is left in either namespace except
TIME-WAIT; helogate's counters agree and no table or ring overflowed.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

TOTAL = int(os.environ.get("HG_LAB_LOAD", "2000"))
GOOD = TOTAL // 2
BOGUS = TOTAL - GOOD
LIMIT = int(os.environ.get("HG_LAB_LOAD_SECONDS", "180"))  # bound for each half
PAR = int(os.environ.get("HG_LAB_LOAD_PAR", "50"))  # bogus smtp-source processes at once
SERVER = K.SERVER_IP + ":25"


def body(t, lab):
    before = lab.count_messages()
    started = time.time()
    good = subprocess.Popen(
        [K.LABSH, "client", "timeout", "-k", "5", str(LIMIT), "smtp-source", "-s", "10",
         "-m", str(GOOD), "-l", "1000", "-M", "mail.example.org", "-f", "load-good@example.org",
         "-t", "good@lab-mail.net", SERVER],
        env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # $0 is the session number: each bogus session has its own recipient.
    one = ("exec timeout -k 2 30 smtp-source -m 1 -M localhost -f load-bogus@example.org "
           "-t bogus$0@lab-mail.net " + SERVER)
    bogus = subprocess.Popen(
        [K.LABSH, "client", "timeout", "-k", "5", str(LIMIT), "bash", "-c",
         "seq %d | xargs -P %d -n 1 sh -c '%s'" % (BOGUS, PAR, one)],
        env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gout, gerr = good.communicate(timeout=LIMIT + 30)
    bout, berr = bogus.communicate(timeout=LIMIT + 30)
    took = time.time() - started
    lab.save("smtp-source-good", gout + gerr)
    lab.save("smtp-source-bogus", bout + berr)
    print("   (%d sessions in %.1f s)" % (TOTAL, took), flush=True)

    t.check(good.returncode == 0, "good half: smtp-source ran to its end (%d sessions)" % GOOD,
            "exit %d: %s" % (good.returncode, gerr[-300:]))
    rejected = set()
    for line in berr.splitlines():
        m = re.search(r"recipient rejected: 550 5\.7\.1 bogus(\d+)@lab-mail\.net\.\.\. "
                      r"Access denied - bogus HELO$", line)
        if m:
            rejected.add(int(m.group(1)))
    other = [l for l in berr.splitlines() if "Access denied - bogus HELO" not in l]
    t.equal(len(rejected), BOGUS, "bogus half: every session got the exact 550 for its RCPT")
    t.equal(other[:5], [], "bogus half: no other error")

    deadline = time.time() + 60
    while lab.count_messages() - before < GOOD and time.time() < deadline:
        time.sleep(0.25)
    t.equal(lab.count_messages() - before, GOOD, "every good message is delivered")

    # What the server saw: Postfix's per-session summary lines.
    ends = re.findall(r"postfix/smtpd\[\d+\]: disconnect from unknown\[198\.18\.0\.10\] (.*)",
                      lab.maillog())
    complete = sum(1 for e in ends if re.fullmatch(r"helo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", e))
    cut = sum(1 for e in ends if re.fullmatch(r"helo=1 mail=1 commands=2", e))
    t.equal(complete, GOOD, "server: every good session complete (HELO, MAIL, RCPT, DATA, QUIT)")
    t.equal(cut, BOGUS, "server: every bogus session ended right after MAIL (no RCPT)")
    lost = len(re.findall(r"lost connection after MAIL from unknown", lab.maillog()))
    t.equal(lost, BOGUS, "server: each bogus session lost its connection after MAIL")

    for side in ("client", "server"):
        t.equal(lab.lingering(side, 2.0)[:5], [],
                "%s: no connection on :25 left but TIME-WAIT (2 s grace)" % side)

    ev = [e for e in lab.events() if e.get("action") == "rejected"]
    got = sorted(int(m.group(1)) for e in ev
                 for m in [re.fullmatch(r"bogus(\d+)@lab-mail\.net", e.get("rcpt", ""))] if m)
    t.equal(got == list(range(1, BOGUS + 1)), True,
            "one 'rejected' event per bogus session (%d events)" % len(ev))


def post(t, lab):
    st = lab.stats()["total"]
    t.equal(st["rejected"]["localhost"], BOGUS, "helogate: rejected.localhost counter")
    t.equal(st["takeovers"], BOGUS, "helogate: one takeover per bogus session")
    for name in ("flows_table_full", "events_dropped", "takeover_no_memory", "inject_no_mbuf",
                 "conflict_dropped"):
        t.equal(st[name], 0, "helogate: %s is 0" % name)


if __name__ == "__main__":
    sys.exit(K.run_test("load", body, post=post, quiet_server=True))
