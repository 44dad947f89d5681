#!/usr/bin/env python3
"""Lab test 1: a good HELO passes helogate untouched.

Client (smtplib, EHLO mail.example.org) sends a ~200 KB message with DATA
and another with BDAT (CHUNKING); both bodies hold lines that look like SMTP
commands (RCPT TO, HELO localhost, STARTTLS, QUIT, a lone dot). Asserts:
- the banner and the EHLO reply reach the client as Postfix sent them,
  STARTTLS, PIPELINING and CHUNKING included;
- every reply of the dialogue is Postfix's own, exactly;
- each stored message is byte for byte what was sent (line ends CRLF -> LF,
  after the three trace headers Postfix prepends);
- the server received exactly the client's commands, in order;
- a pipelined swaks session and a STARTTLS (TLS 1.3) swaks session with a
  good HELO are delivered too (helogate never touches encrypted bytes);
- helogate wrote no event.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

# Postfix's virtual(8) prepends these to every message; the rest of the
# file must be the sent bytes with LF line ends.
TRACE = re.compile(
    rb"\AReturn-Path: <[^>\n]*>\n"
    rb"X-Original-To: [^\n]+\n"
    rb"Delivered-To: [^\n]+\n"
    rb"Received: from [^\n]+\n(?:\t[^\n]+\n)+")


def make_message(token, rcpt, kb=200):
    lines = [
        "Date: Sun, 22 Nov 2026 12:00:00 +0000",
        "From: Lab Sender <sender@example.org>",
        "To: <%s>" % rcpt,
        "Subject: helogate lab %s" % token,
        "Message-ID: <%s@example.org>" % token,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "first body line %s" % token,
        "RCPT TO:<victim@lab-mail.net>",
        "HELO localhost",
        "MAIL FROM:<spoof@lab-mail.net>",
        "STARTTLS",
        ".",
        ".leading dot",
        "..two leading dots",
        "trailing space ",
        "\ttab first",
        "caf\u00e9 \u00fcber \u2603",
        "QUIT",
        "",
    ]
    i = 0
    while sum(len(l) + 2 for l in lines) < kb * 1024:
        lines.append("%06d %s" % (i, "abcdefghijklmnopqrstuvwxyz0123456789" * 2))
        i += 1
    lines.append("last line %s" % token)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def check_stored(t, lab, token, sent, what):
    data = lab.wait_message(token)
    if not t.check(data is not None, what + ": the message is in the Maildir"):
        return
    m = TRACE.match(data)
    if not t.check(m is not None, what + ": it starts with Postfix's trace headers only",
                   repr(data[:300])):
        return
    stored = data[m.end():]
    want = sent.replace(b"\r\n", b"\n")
    same = stored == want
    detail = ""
    if not same:
        n = next((i for i in range(min(len(stored), len(want))) if stored[i] != want[i]),
                 min(len(stored), len(want)))
        detail = "first difference at byte %d of %d/%d: stored %r, sent %r" % (
            n, len(stored), len(want), stored[n:n + 40], want[n:n + 40])
    t.check(same, what + ": stored byte for byte as sent (%d bytes)" % len(want), detail)


def body(t, lab):
    tok = "hg-data-%d" % os.getpid()
    data_msg = make_message(tok, "good@lab-mail.net")
    path = lab.save("message-data", data_msg.decode("utf-8"))
    recs = lab.smtp(["mail:sender@example.org", "rcpt:good@lab-mail.net", "data:" + path,
                     "quit", "close"], helo="mail.example.org")
    by = {r["step"]: r for r in recs}
    t.equal(by.get("connect", {}).get("reply"), [K.P_BANNER], "DATA session: Postfix's banner")
    ehlo = by.get("ehlo", {}).get("reply", [])
    t.check(ehlo[:1] == ["250-mx.lab-mail.net"]
            and {"250-PIPELINING", "250-STARTTLS", "250 CHUNKING"} <= set(ehlo),
            "DATA session: Postfix's EHLO reply offers PIPELINING, STARTTLS, CHUNKING", ehlo)
    got = K.replies_of([r for r in recs if r["step"] not in ("connect", "ehlo", "close")])
    t.check(len(got) == 5 and got[:3] == [K.P_MAIL_OK, K.P_RCPT_OK, K.P_DATA]
            and got[3].startswith("250 2.0.0 Ok: queued as ") and got[4] == K.R_BYE,
            "DATA session: MAIL, RCPT, DATA, end of data, QUIT answered by Postfix", got)
    t.equal(by.get("close", {}).get("how"), "fin", "DATA session: the server closes cleanly")
    check_stored(t, lab, tok, data_msg, "DATA")
    sess = lab.server_session("MAIL FROM:<sender@example.org>")
    t.equal(K.received_commands(sess),
            ["ehlo mail.example.org", "MAIL FROM:<sender@example.org>",
             "RCPT TO:<good@lab-mail.net>", "DATA", "QUIT"],
            "DATA session: the server received exactly the client's commands")

    tok2 = "hg-bdat-%d" % os.getpid()
    bdat_msg = make_message(tok2, "chunk@example.com", kb=64)
    path = lab.save("message-bdat", bdat_msg.decode("utf-8"))
    recs = lab.smtp(["mail:chunks@example.org", "rcpt:chunk@example.com", "bdat:" + path,
                     "quit", "close"], helo="mail.example.org")
    got = K.replies_of([r for r in recs if r["step"] in ("mail", "rcpt", "bdat", "quit")])
    t.check(len(got) == 4 and got[:2] == [K.P_MAIL_OK, K.P_RCPT_OK]
            and re.match(r"250 2\.0\.0 Ok: %d bytes queued as \w+$" % len(bdat_msg), got[2])
            and got[3] == K.R_BYE,
            "BDAT session: MAIL, RCPT, BDAT LAST, QUIT answered by Postfix", got)
    check_stored(t, lab, tok2, bdat_msg, "BDAT")

    tok3 = "hg-pipe-%d" % os.getpid()
    sw = lab.swaks("mail.example.org", "pipe@lab-mail.net", "--pipeline", "--body", tok3,
                   "--header", "Subject: " + tok3)
    t.check(sw.pipelined("MAIL FROM:", "RCPT TO:", "DATA")
            and sw.after(K.P_MAIL_OK)[:3] == [K.P_MAIL_OK, K.P_RCPT_OK, K.P_DATA],
            "swaks --pipeline: MAIL, RCPT, DATA pipelined and answered in order", sw.tail())
    t.check(lab.wait_message(tok3) is not None, "swaks --pipeline: the message is delivered")

    tok4 = "hg-tls-%d" % os.getpid()
    sw = lab.swaks("mail.example.org", "tls@lab-mail.net", "--tls", "--body", tok4,
                   "--header", "Subject: " + tok4)
    t.check(K.P_TLS_READY in sw.replies and any(
        r.startswith("250 2.0.0 Ok: queued as ") for r in sw.replies),
        "swaks --tls: TLS accepted and the message queued inside TLS", sw.tail())
    msg = lab.wait_message(tok4)
    t.check(msg is not None and b"with ESMTPS id" in msg,
            "swaks --tls: the message is delivered, received over TLS (ESMTPS)")

    if K.BRIDGE == "helogate":
        t.equal(lab.events(), [], "helogate wrote no event for good sessions")


def post(t, lab):
    st = lab.stats()["total"]
    t.equal(st["takeovers"], 0, "helogate took over no session")
    t.check(st["judged"] >= 4, "helogate judged every HELO (%d)" % st["judged"])


if __name__ == "__main__":
    sys.exit(K.run_test("delivery", body, needs_helogate=False, post=post))
