#!/usr/bin/env python3
"""Lab test 4: what a rejected client hears afterwards (postscreen-like).

smtplib sessions with EHLO localhost, each taken over at its first RCPT:
a) RCPT, RCPT, RSET, NOOP, EHLO, VRFY, MAIL, RCPT, QUIT: a 550 per RCPT,
   "250 2.0.0 Ok" to RSET/NOOP/EHLO, 502 to VRFY, helogate's
   "250 2.1.0 <addr>... Sender ok" to the new MAIL, "221 2.0.0 Bye" to QUIT,
   then an orderly close (FIN, not RST);
b) DATA after the 550: "554 5.5.1 Error: no valid recipients" and the
   session stays open as Postfix's does (RSET, QUIT answered);
c) BDAT with a chunk full of command lines: the 554 once, the chunk read
   and discarded by its size (none of its lines answered), then NOOP and
   QUIT answered;
d) a client that keeps talking: the 21st command after the takeover gets
   "421 4.7.0 Error: too many commands" and the session closes.
Every time the server received EHLO and MAIL FROM only, and one "rejected"
event is written per rejected RCPT.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

PID = os.getpid()


def server_saw_only_mail(t, lab, sender, label):
    sess = lab.server_session("MAIL FROM:<%s>" % sender)
    t.equal(K.received_commands(sess), ["ehlo localhost", "MAIL FROM:<%s>" % sender],
            "%s: the server received EHLO and MAIL FROM only" % label)


def closed(recs):
    return [r.get("how") for r in recs if r["step"] == "close"]


def dialogue(t, lab):
    sender = "first-%d@example.org" % PID
    recs = lab.smtp(["mail:" + sender, "rcpt:one@lab-mail.net", "rcpt:two@example.com",
                     "rset", "noop", "ehlo", "cmd:VRFY postmaster", "mail:again@example.org",
                     "rcpt:three@lab-mail.net", "quit", "close"], helo="localhost")
    got = [(r["step"], K.replies_of([r])[0]) for r in recs[2:] if r["step"] != "close"]
    want = [("mail", K.P_MAIL_OK),
            ("rcpt", K.R_BOGUS.format("one@lab-mail.net")),
            ("rcpt", K.R_BOGUS.format("two@example.com")),
            ("rset", K.R_OK), ("noop", K.R_OK), ("ehlo", K.R_OK),
            ("cmd", "502 5.5.2 Error: command not recognized"),
            ("mail", K.R_SENDER_OK.format("again@example.org")),
            ("rcpt", K.R_BOGUS.format("three@lab-mail.net")),
            ("quit", K.R_BYE)]
    t.equal(got, want, "after the 550: RCPT, RSET, NOOP, EHLO, VRFY, MAIL, RCPT, QUIT replies")
    t.equal(closed(recs), ["fin"], "after QUIT: an orderly close (FIN)")
    server_saw_only_mail(t, lab, sender, "dialogue")
    ev = [e["rcpt"] for e in lab.events() if e.get("action") == "rejected"]
    t.equal(ev, ["one@lab-mail.net", "two@example.com", "three@lab-mail.net"],
            "dialogue: one 'rejected' event per RCPT")


def data_after(t, lab):
    sender = "data-%d@example.org" % PID
    recs = lab.smtp(["mail:" + sender, "rcpt:d@lab-mail.net", "cmd:DATA", "rset", "quit", "close"],
                    helo="localhost")
    t.equal(K.replies_of(recs[2:7]), [K.P_MAIL_OK, K.R_BOGUS.format("d@lab-mail.net"),
                                      K.R_NO_RCPT, K.R_OK, K.R_BYE],
            "DATA after the 550: 554 no valid recipients, the session stays open (RSET, QUIT)")
    t.equal(closed(recs), ["fin"], "DATA after the 550: closed (FIN) after QUIT")
    server_saw_only_mail(t, lab, sender, "DATA")


def bdat_after(t, lab):
    sender = "bdat-%d@example.org" % PID
    chunk = b"".join(b"RCPT TO:<x%d@lab-mail.net>\r\nNOOP\r\nQUIT\r\n" % i for i in range(50))
    path = os.path.join(lab.logdir, "bdat-chunk.txt")
    with open(path, "wb") as f:
        f.write(chunk)
    recs = lab.smtp(["mail:" + sender, "rcpt:b@lab-mail.net", "bdat:" + path, "noop", "quit",
                     "close"], helo="localhost")
    t.equal(K.replies_of(recs[2:7]), [K.P_MAIL_OK, K.R_BOGUS.format("b@lab-mail.net"),
                                      K.R_NO_RCPT, K.R_OK, K.R_BYE],
            "BDAT after the 550: one 554, the chunk read and discarded, the session goes on")
    t.equal(closed(recs), ["fin"], "BDAT after the 550: closed (FIN) after QUIT")
    server_saw_only_mail(t, lab, sender, "BDAT")


def too_many(t, lab):
    sender = "many-%d@example.org" % PID
    # The RCPT is the takeover's first command: 19 NOOPs more are answered,
    # the 21st command gets the 421.
    steps = ["mail:" + sender, "rcpt:m@lab-mail.net"] + ["noop"] * 20 + ["close"]
    recs = lab.smtp(steps, helo="localhost")
    noops = K.replies_of(recs, "noop")
    t.equal(noops, [K.R_OK] * 19 + ["421 4.7.0 Error: too many commands"],
            "21st command after the takeover: 421 too many commands")
    t.equal(closed(recs), ["fin"], "after the 421: the session is closed (FIN)")
    server_saw_only_mail(t, lab, sender, "421")


def body(t, lab):
    dialogue(t, lab)
    data_after(t, lab)
    bdat_after(t, lab)
    too_many(t, lab)
    t.check(lab.wait_server_released(1.0), "no server socket left", lab.server_established())
    t.equal(lab.lingering("client", 1.0), [], "no client socket left but TIME-WAIT (1 s grace)")


if __name__ == "__main__":
    sys.exit(K.run_test("after_reject", body))
