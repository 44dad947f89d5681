#!/usr/bin/env python3
"""Lab self-check: the lab works, through a plain Linux bridge.

Always runs through the kernel bridge (no helogate), so a failure here is
the lab's, and every probe the helogate tests rely on is shown to be able
to see what it looks for (no check that cannot fail):
- a good-HELO message is delivered byte for byte (test 1's comparison);
- a bogus-HELO session (EHLO localhost) is delivered too: nothing in the
  path filters (test 8's "delivered normally");
- Postfix's log lists every command it received, the RCPT included (what
  the "server never saw the RCPT" checks read);
- while a client holds its session, `ss` in the server namespace shows it
  ESTABLISHED (what the "server's socket is gone" checks poll);
- the nftables drop-once rule drops the server's own 550 exactly once and
  the client still gets it by TCP retransmission (test 6's mechanism);
- STARTTLS with the lab's certificate works (TLS 1.3);
- 100 smtp-source sessions are delivered and leave no socket behind.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402
from test_delivery import check_stored, make_message  # noqa: E402

PID = os.getpid()
REFUSED = "550 5.7.1 <refuse@lab-mail.net>: Recipient address rejected: Refused by the lab server"


def body(t, lab):
    tok = "hg-self-%d" % PID
    msg = make_message(tok, "self@lab-mail.net", kb=100)
    path = lab.save("message", msg.decode("utf-8"))
    recs = lab.smtp(["mail:self@example.org", "rcpt:self@lab-mail.net", "data:" + path, "quit",
                     "close"], helo="mail.example.org")
    t.check(any(r["step"] == "data-end" and r["code"] == 250 for r in recs),
            "good HELO: the message is queued", recs[-3:])
    check_stored(t, lab, tok, msg, "good HELO")

    tok = "hg-self-bogus-%d" % PID
    sw = lab.swaks("localhost", "selfbogus@lab-mail.net", "--body", tok)
    t.check(any(r.startswith("250 2.0.0 Ok: queued as ") for r in sw.replies),
            "bogus HELO, no filter: Postfix queues the message", sw.tail())
    t.check(lab.wait_message(tok) is not None, "bogus HELO, no filter: the message is delivered")
    sess = lab.server_session("RCPT TO:<selfbogus@lab-mail.net>")
    t.equal(K.received_commands(sess),
            ["EHLO localhost", "MAIL FROM:<sender@example.org>",
             "RCPT TO:<selfbogus@lab-mail.net>", "DATA", "QUIT"],
            "Postfix's log lists every command it received, RCPT included")

    c = lab.smtp_start(["mail:held@example.org", "rcpt:held@lab-mail.net", "pause", "quit",
                        "close"], helo="localhost")
    got = c.until_pause()
    t.check(got is not None and K.replies_of(got)[-1] == K.P_RCPT_OK,
            "held session: Postfix accepts the RCPT", got)
    t.check(not lab.wait_server_released(1.0),
            "held session: ss shows the server's socket ESTABLISHED while the client holds it")
    c.resume()
    recs = c.finish()
    t.equal([r.get("how") for r in recs if r["step"] == "close"], ["fin"],
            "held session: QUIT, then an orderly close")

    if t.check(lab.drop_once_rules(), "the nftables drop-once rules load"):
        rec = lab.smtp(["mail:drop@example.org", "rcpt:refuse@lab-mail.net", "quit", "close"],
                       helo="mail.example.org")
        t.equal(K.replies_of(rec, "rcpt"), [REFUSED],
                "the server's own 550 reaches the client although its first copy was dropped")
        t.equal(lab.nft_counter("drop550"), 1, "the drop-once rule dropped exactly one 550 segment")
        t.equal(lab.nft_counter("drop221"), 1, "the drop-once rule dropped exactly one 221 segment")
        lab.drop_once_remove()

    tok = "hg-self-tls-%d" % PID
    sw = lab.swaks("mail.example.org", "tls@lab-mail.net", "--tls", "--body", tok)
    t.check(K.P_TLS_READY in sw.replies and lab.wait_message(tok) is not None,
            "STARTTLS with the lab's certificate: delivered over TLS", sw.tail())

    before = lab.count_messages()
    r = subprocess.run([K.LABSH, "client", "timeout", "-k", "5", "60", "smtp-source", "-s", "10",
                        "-m", "100", "-M", "mail.example.org", "-f", "self@example.org",
                        "-t", "many@lab-mail.net", K.SERVER_IP + ":25"],
                       env=lab.env, capture_output=True, text=True, timeout=90)
    t.equal(r.returncode, 0, "smtp-source: 100 sessions run")
    deadline = time.time() + 20
    while lab.count_messages() - before < 100 and time.time() < deadline:
        time.sleep(0.2)
    t.equal(lab.count_messages() - before, 100, "smtp-source: 100 messages delivered")
    for side in ("client", "server"):
        t.equal(lab.lingering(side, 1.0), [],
                "%s: no connection on :25 left but TIME-WAIT (1 s grace)" % side)


if __name__ == "__main__":
    sys.exit(K.run_test("selfcheck", body, needs_helogate=False, bridge="kernel"))
