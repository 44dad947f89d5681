#!/usr/bin/env python3
"""Lab test 6: a segment helogate injects is lost once; it retransmits.

An nftables table in the client namespace drops, once per connection, the
first TCP segment from port 25 whose payload starts with "550 " and then the
first whose payload starts with "221 " (helogate's 221 carries its FIN);
conntrack marks remember what was dropped, so the retransmissions pass.
swaks with EHLO localhost must still see the exact 550 at RCPT and the 221
at QUIT, the session must end cleanly, and each rule must have dropped
exactly one segment. After the run helogate's counters show retransmits.
Through the kernel bridge no "550 " ever arrives (Postfix accepts), so the
drop counter stays 0 and the test fails, as it should.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

def body(t, lab):
    if not t.check(lab.drop_once_rules(), "the nftables drop rules load in the client namespace"):
        return
    sender, rcpt = "lost-%d@example.org" % os.getpid(), "lost@lab-mail.net"
    started = time.time()
    sw = lab.swaks("localhost", rcpt, sender=sender)
    took = time.time() - started
    t.equal(sw.after(K.P_MAIL_OK), [K.P_MAIL_OK, K.R_BOGUS.format(rcpt), K.R_BYE],
            "the client still gets the exact 550 and the 221, each once")
    t.check("Connection closed with remote host" in sw.out,
            "swaks saw an orderly close after the 221", sw.out[-300:])
    t.equal(lab.nft_counter("drop550"), 1, "the first 550 segment was dropped, exactly once")
    t.equal(lab.nft_counter("drop221"), 1, "the first 221 segment was dropped, exactly once")
    t.check(took >= 0.3, "the session waited for retransmissions (%.2f s)" % took)
    sess = lab.server_session("MAIL FROM:<%s>" % sender)
    t.equal(K.received_commands(sess), ["EHLO localhost", "MAIL FROM:<%s>" % sender],
            "the server never received the RCPT")
    t.check(lab.wait_server_released(1.0), "the server's socket is gone",
            lab.server_established())
    t.equal(lab.lingering("client", 1.0), [], "no client socket left but TIME-WAIT (1 s grace)")


def post(t, lab):
    st = lab.stats()["total"]
    t.check(st["injected_retransmits"] >= 2,
            "helogate counted its retransmissions (%d)" % st["injected_retransmits"])


if __name__ == "__main__":
    sys.exit(K.run_test("lost_segment", body, post=post))
