#!/usr/bin/env python3
"""Lab test 2: every bogus-HELO reason is rejected at RCPT, exactly.

For each reason, swaks (EHLO, or HELO with --protocol SMTP) runs MAIL FROM,
RCPT TO, QUIT with a unique sender and recipient. Asserts:
- the client got Postfix's own "250 2.1.0 Ok" to MAIL FROM, then EXACTLY
  helogate's 550 text for the reason at RCPT, then "221 2.0.0 Bye";
- the server received the greeting and MAIL FROM and nothing else (its
  Postfix log of received commands), lost the connection after MAIL, and
  has no ESTABLISHED socket on :25 within a second;
- helogate wrote one "rejected" event with the reason, HELO and recipient.
Then one session is held open after the 550 (smtplib 'pause'): while the
client is still connected, the server's socket must already be gone.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

# (HELO argument, expected RCPT reply template, verdict reason, greeting)
CASES = [
    ("127.0.0.1", K.R_BOGUS, "ip-literal", "EHLO"),
    ("[127.0.0.1]", K.R_BOGUS, "ip-literal", "EHLO"),
    ("localhost", K.R_BOGUS, "localhost", "EHLO"),
    ("www", K.R_BOGUS, "not-fqdn", "EHLO"),
    ("rad.internal", K.R_BOGUS, "not-fqdn", "EHLO"),
    ("fakedomain.xyz", K.R_BOGUS, "banned", "EHLO"),
    ("mx.fakedomain.xyz", K.R_BOGUS, "banned", "EHLO"),
    ("198.18.0.25", K.R_BOGUS_IP, "server-ip", "EHLO"),
    ("[198.18.0.25]", K.R_BOGUS_IP, "server-ip", "EHLO"),
    ("lab-mail.net", K.R_BOGUS_RCPT, "matches-rcpt", "EHLO"),
    ("localhost", K.R_BOGUS, "localhost", "HELO"),
    ("mon-serveur", K.R_BOGUS, "not-fqdn", "HELO"),
]


def one_case(t, lab, i, helo, template, reason, greeting):
    sender = "s%d-%d@example.org" % (i, os.getpid())
    rcpt = "bogus%d@lab-mail.net" % i
    label = "%s %s" % (greeting, helo)
    extra = ["--protocol", "SMTP"] if greeting == "HELO" else []
    sw = lab.swaks(helo, rcpt, *extra, sender=sender)
    want = [K.P_MAIL_OK, template.format(rcpt), K.R_BYE]
    t.equal(sw.after(K.P_MAIL_OK), want,
            "%s: client saw Postfix's 250 to MAIL, then the exact 550 at RCPT, then 221" % label)
    released = lab.wait_server_released(1.0)
    t.check(released, "%s: the server's socket is gone within 1 s" % label,
            lab.server_established())
    sess = lab.server_session("MAIL FROM:<%s>" % sender)
    t.equal(K.received_commands(sess), ["%s %s" % (greeting, helo), "MAIL FROM:<%s>" % sender],
            "%s: the server received the greeting and MAIL FROM only (never the RCPT)" % label)
    text = "\n".join(sess)
    t.check("> unknown[198.18.0.10]: 250 2.1.0 Ok" in text
            and "lost connection after MAIL from unknown[198.18.0.10]" in text,
            "%s: the server answered MAIL itself, then lost the connection after MAIL" % label,
            text[-400:])
    ev = [e for e in lab.events() if e.get("rcpt") == rcpt]
    want_ev = {"command": "RCPT", "helo": helo, "reason": reason, "rcpt": rcpt,
               "action": "rejected", "server": "198.18.0.25:25"}
    t.check(len(ev) == 1 and {k: ev[0].get(k) for k in want_ev} == want_ev
            and ev[0].get("client", "").startswith("198.18.0.10:"),
            "%s: one 'rejected' event, reason %s" % (label, reason), ev)


def held_open(t, lab):
    """The server is cut while the client still holds its connection."""
    rcpt = "held@lab-mail.net"
    c = lab.smtp_start(["mail:held@example.org", "rcpt:" + rcpt, "pause", "noop", "quit",
                        "close"], helo="localhost")
    got = c.until_pause()
    t.check(got is not None and K.replies_of(got)[-2:] == [K.P_MAIL_OK, K.R_BOGUS.format(rcpt)],
            "held session: 250 from Postfix, then the 550", got)
    t.check(lab.wait_server_released(1.0),
            "held session: the server's socket is gone within 1 s while the client is connected",
            lab.server_established())
    client_side = lab.tcp("client", "established", "( dport = :25 )")
    t.equal(len(client_side), 1, "held session: the client's own connection is still up")
    c.resume()
    recs = c.finish()
    t.equal(K.replies_of([r for r in recs if r["step"] in ("noop", "quit")]),
            [K.R_OK, K.R_BYE], "held session: NOOP and QUIT answered after the pause")
    t.equal([r.get("how") for r in recs if r["step"] == "close"], ["fin"],
            "held session: closed cleanly (FIN) after QUIT")


def body(t, lab):
    for i, (helo, template, reason, greeting) in enumerate(CASES):
        one_case(t, lab, i, helo, template, reason, greeting)
    held_open(t, lab)
    t.equal(lab.lingering("client", 1.0), [], "no client socket left but TIME-WAIT (1 s grace)")


def post(t, lab):
    st = lab.stats()["total"]
    want = {}
    for _, _, reason, _ in CASES:
        want[reason] = want.get(reason, 0) + 1
    want["localhost"] += 1  # the held session
    got = {k: v for k, v in st["rejected"].items() if v}
    t.equal(got, want, "helogate's 'rejected' counters, per reason")
    t.equal(st["takeovers"], len(CASES) + 1, "helogate took over each bogus session once")


if __name__ == "__main__":
    sys.exit(K.run_test("bogus_reasons", body, post=post))
