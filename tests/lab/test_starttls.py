#!/usr/bin/env python3
"""Lab test 5: STARTTLS offered by the server, tried by a bogus client.

a) swaks --tls-optional, EHLO localhost: the server's EHLO reply still
   offers STARTTLS (helogate never strips it); STARTTLS gets helogate's
   "554 5.7.1 Error: TLS not available - bogus HELO"; swaks goes on in plain
   text: helogate's "250 2.1.0 <addr>... Sender ok" to MAIL, the 550 at RCPT,
   221 to QUIT. The server never received STARTTLS (nor anything after
   EHLO) and its socket is gone while the client is still talking.
b) smtplib, EHLO localhost, STARTTLS refused, paused: the server's socket
   is gone within 1 s while the client is connected; then MAIL, RCPT, QUIT
   in plain text as in a). Events: one for STARTTLS, one for the RCPT.
c) swaks --tls (TLS required), EHLO localhost: refused, gives up, nothing
   delivered.
d) A good HELO's STARTTLS is accepted (220, TLS 1.3) and the session inside
   TLS delivers its message, even with a bogus EHLO inside TLS: encrypted
   bytes are opaque to helogate (reliability rule 9).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

PID = os.getpid()


def swaks_optional(t, lab):
    sender, rcpt = "tlso-%d@example.org" % PID, "tlso@lab-mail.net"
    sw = lab.swaks("localhost", rcpt, "--tls-optional", sender=sender)
    t.check("250-STARTTLS" in sw.replies, "swaks --tls-optional: the EHLO reply offers STARTTLS",
            sw.replies[:12])
    t.equal(sw.after(K.R_NO_TLS),
            [K.R_NO_TLS, K.R_SENDER_OK.format(sender), K.R_BOGUS.format(rcpt), K.R_BYE],
            "swaks --tls-optional: STARTTLS refused (554), then MAIL, the 550 at RCPT, 221")
    sess = lab.server_session("EHLO localhost")
    t.equal(K.received_commands(sess), ["EHLO localhost"],
            "swaks --tls-optional: the server received EHLO only (never STARTTLS)")
    t.check("lost connection after EHLO" in "\n".join(sess),
            "swaks --tls-optional: the server lost the connection after EHLO", sess[-3:])
    t.check(lab.wait_server_released(1.0), "swaks --tls-optional: the server's socket is gone",
            lab.server_established())


def smtplib_refused(t, lab):
    sender, rcpt = "tlsp-%d@example.org" % PID, "tlsp@lab-mail.net"
    before = len(lab.events())
    c = lab.smtp_start(["starttls", "pause", "mail:" + sender, "rcpt:" + rcpt, "quit", "close"],
                       helo="localhost")
    got = c.until_pause()
    t.equal(K.replies_of(got or [], "starttls"), [K.R_NO_TLS],
            "smtplib: STARTTLS refused with helogate's 554")
    t.check(lab.wait_server_released(1.0),
            "smtplib: the server's socket is gone within 1 s, the client still connected",
            lab.server_established())
    c.resume()
    recs = c.finish()
    t.equal(K.replies_of([r for r in recs if r["step"] in ("mail", "rcpt", "quit")]),
            [K.R_SENDER_OK.format(sender), K.R_BOGUS.format(rcpt), K.R_BYE],
            "smtplib: in plain text, MAIL answered, 550 at RCPT, 221 at QUIT")
    t.equal([r.get("how") for r in recs if r["step"] == "close"], ["fin"],
            "smtplib: an orderly close after QUIT")
    ev = [(e.get("command"), e.get("rcpt"), e.get("reason"), e.get("action"))
          for e in lab.events()[before:]]
    t.equal(ev, [("STARTTLS", "", "localhost", "rejected"), ("RCPT", rcpt, "localhost", "rejected")],
            "smtplib: one event for the refused STARTTLS, one for the RCPT")


def swaks_required(t, lab):
    tok = "tlsr-%d" % PID
    sw = lab.swaks("localhost", "tlsr@lab-mail.net", "--tls", "--body", tok)
    t.check(K.R_NO_TLS in sw.replies and not any(r.startswith("250 2.0.0 Ok: queued")
                                                  for r in sw.replies),
            "swaks --tls (required): STARTTLS refused, the client gives up", sw.tail())
    t.check(lab.wait_message(tok, limit=1.0) is None, "swaks --tls (required): nothing delivered")


def good_tls(t, lab):
    tok = "tlsg-%d" % PID
    path = os.path.join(lab.logdir, "tls-message.txt")
    with open(path, "w") as f:
        f.write("Subject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nbody %s\r\n" % (tok, tok, tok))
    recs = lab.smtp(["starttls", "ehlo:localhost", "mail:tlsg@example.org", "rcpt:tlsg@lab-mail.net",
                     "data:" + path, "quit", "close"], helo="mail.example.org")
    steps = [(r["step"], (r.get("reply") or [r.get("error") or r.get("arg")])[-1]) for r in recs]
    t.check(("starttls", K.P_TLS_READY) in steps and ("tls", "TLSv1.3") in steps,
            "good HELO: STARTTLS accepted by Postfix, TLS 1.3 negotiated through the bridge",
            steps)
    t.check(any(s == "data-end" and r.startswith("250 2.0.0 Ok: queued as ") for s, r in steps),
            "good HELO: inside TLS (bogus EHLO there too) the message is queued", steps)
    msg = lab.wait_message(tok)
    t.check(msg is not None and b"with ESMTPS id" in msg,
            "good HELO: the message is delivered, received over TLS")


def body(t, lab):
    swaks_optional(t, lab)
    smtplib_refused(t, lab)
    swaks_required(t, lab)
    good_tls(t, lab)


def post(t, lab):
    st = lab.stats()["total"]
    t.check(st["passthrough"]["tls-started"] >= 1,
            "helogate counted the accepted STARTTLS as opaque (passthrough tls-started)",
            st["passthrough"])


if __name__ == "__main__":
    sys.exit(K.run_test("starttls", body, post=post))
