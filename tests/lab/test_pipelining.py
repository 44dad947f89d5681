#!/usr/bin/env python3
"""Lab test 3: pipelined commands of a bogus session (RFC 2920).

a) swaks --pipeline, EHLO localhost: MAIL, RCPT, DATA leave in one write.
   Every command is answered once, in order: Postfix's 250 to MAIL,
   helogate's 550 to RCPT, helogate's 554 to DATA (the session stays open
   as Postfix's does), and swaks's QUIT its 221.
b) smtplib, one write holding MAIL, RCPT, RCPT, RSET, NOOP, MAIL, RCPT,
   QUIT: eight replies, in order, none twice, then an orderly close; the
   MAIL at the head of the group still reaches the server, nothing after it.
Both: the server received nothing after MAIL FROM and its socket is gone.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402


def swaks_pipeline(t, lab):
    sender, rcpt = "pipe-%d@example.org" % os.getpid(), "pipe@lab-mail.net"
    sw = lab.swaks("localhost", rcpt, "--pipeline", sender=sender)
    t.check(sw.pipelined("MAIL FROM:", "RCPT TO:", "DATA"),
            "swaks --pipeline: MAIL, RCPT, DATA sent back to back", sw.out[-600:])
    t.equal(sw.after(K.P_MAIL_OK), [K.P_MAIL_OK, K.R_BOGUS.format(rcpt), K.R_NO_RCPT, K.R_BYE],
            "swaks --pipeline: MAIL, RCPT, DATA answered once each, in order, then its QUIT")
    sess = lab.server_session("MAIL FROM:<%s>" % sender)
    t.equal(K.received_commands(sess), ["EHLO localhost", "MAIL FROM:<%s>" % sender],
            "swaks --pipeline: the server received nothing after MAIL FROM")
    t.check(lab.wait_server_released(1.0), "swaks --pipeline: the server's socket is gone",
            lab.server_established())


def smtplib_pipeline(t, lab):
    group = ["MAIL FROM:<grp-%d@example.org>" % os.getpid(), "RCPT TO:<one@lab-mail.net>",
             "RCPT TO:<two@example.com>", "RSET", "NOOP", "MAIL FROM:<again@example.org>",
             "RCPT TO:<three@lab-mail.net>", "QUIT"]
    recs = lab.smtp(["pipeline:" + "|".join(group), "close"], helo="localhost")
    got = K.replies_of(recs, "pipeline")
    want = [K.P_MAIL_OK, K.R_BOGUS.format("one@lab-mail.net"),
            K.R_BOGUS.format("two@example.com"), K.R_OK, K.R_OK,
            K.R_SENDER_OK.format("again@example.org"), K.R_BOGUS.format("three@lab-mail.net"),
            K.R_BYE]
    t.equal(got, want, "smtplib pipeline of 8 commands: 8 replies, in order, each once")
    t.equal([r.get("how") for r in recs if r["step"] == "close"], ["fin"],
            "smtplib pipeline: an orderly close after 221 (no extra bytes, no reset)")
    sess = lab.server_session(group[0])
    t.equal(K.received_commands(sess), ["ehlo localhost", group[0]],
            "smtplib pipeline: the server received the group's MAIL FROM and nothing after it")
    t.check(lab.wait_server_released(1.0), "smtplib pipeline: the server's socket is gone",
            lab.server_established())
    ev = [e["rcpt"] for e in lab.events() if e.get("action") == "rejected"
          and e.get("rcpt") in ("one@lab-mail.net", "two@example.com", "three@lab-mail.net")]
    t.equal(ev, ["one@lab-mail.net", "two@example.com", "three@lab-mail.net"],
            "smtplib pipeline: one 'rejected' event per RCPT, in order")


def body(t, lab):
    swaks_pipeline(t, lab)
    smtplib_pipeline(t, lab)


if __name__ == "__main__":
    sys.exit(K.run_test("pipelining", body))
