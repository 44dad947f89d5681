#!/usr/bin/env python3
"""Lab test 8: detect mode reports and lets everything through.

helogate runs with --mode detect. Bogus sessions (EHLO localhost; EHLO
[198.18.0.25]) are delivered normally, with every reply Postfix's own; each
writes exactly one event, "action":"detected", with its reason, HELO and
recipient; a good session writes none; helogate takes over nothing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

PID = os.getpid()
CASES = [("localhost", "localhost", "detect1@lab-mail.net"),
         ("[198.18.0.25]", "server-ip", "detect2@example.com"),
         ("mail.example.org", None, "detect3@lab-mail.net")]


def body(t, lab):
    for helo, reason, rcpt in CASES:
        tok = "hg-detect-%d-%s" % (PID, rcpt.split("@")[0])
        sw = lab.swaks(helo, rcpt, "--body", tok, "--header", "Subject: " + tok)
        after = sw.after(K.P_MAIL_OK)
        t.check(after[:3] == [K.P_MAIL_OK, K.P_RCPT_OK, K.P_DATA]
                and len(after) == 5 and after[3].startswith("250 2.0.0 Ok: queued as ")
                and after[4] == K.R_BYE,
                "HELO %s: every reply is Postfix's, the message queued" % helo, sw.tail())
        t.check(lab.wait_message(tok) is not None, "HELO %s: the message is delivered" % helo)
        ev = [e for e in lab.events() if e.get("rcpt") == rcpt]
        if reason is None:
            t.equal(ev, [], "HELO %s: no event" % helo)
            continue
        want = {"command": "RCPT", "helo": helo, "reason": reason, "rcpt": rcpt,
                "action": "detected", "server": "198.18.0.25:25"}
        t.check(len(ev) == 1 and {k: ev[0].get(k) for k in want} == want,
                "HELO %s: exactly one event, action 'detected', reason %s" % (helo, reason), ev)
    if K.BRIDGE == "helogate":
        t.equal(len(lab.events()), 2, "two events in all (one per bogus session)")


def post(t, lab):
    st = lab.stats()["total"]
    t.equal(st["takeovers"], 0, "detect mode: helogate took over nothing")
    t.equal(st["injected_segments"] + st["injected_rsts"], 0, "detect mode: nothing injected")


if __name__ == "__main__":
    sys.exit(K.run_test("detect", body, mode="detect", post=post))
