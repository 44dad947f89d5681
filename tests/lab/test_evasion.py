#!/usr/bin/env python3
"""Lab test: a bogus client cannot walk past helogate with one ordinary
socket option (issue 9). Through a real Linux client and a real Postfix:

a) urgent data (MSG_OOB) before RCPT: helogate clears URG, so Postfix reads
   the urgent byte inline, exactly as helogate parsed it; the NOOP gets its
   250 and the RCPT of the bogus session gets helogate's 550;
b) TCP Fast Open (data on the SYN): helogate strips the SYN's data, the
   client sends it again after the handshake, and the session is inspected:
   the RCPT gets the 550.
In both, the server never received the RCPT and a good session through the
same options is delivered by Postfix (250 to its RCPT).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evasion_client.py")


def run_client(lab, how, helo, rcpt):
    r = lab.client(sys.executable, CLIENT, how, K.SERVER_IP, helo, rcpt, timeout=40)
    lab.save("evasion-%s-%s" % (how, helo), r.stdout + r.stderr)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def case(t, lab, how):
    rcpt = "%s-%d@lab-mail.net" % (how, os.getpid())
    got = run_client(lab, how, "localhost", rcpt)
    t.equal(got.get("rcpt"), [K.R_BOGUS.format(rcpt)],
            "%s: the bogus session's RCPT gets helogate's 550" % how)
    if how == "oob":
        t.equal([l[:3] for l in got.get("noop", [])], ["250"],
                "oob: the NOOP with an urgent last byte is answered 250 (read inline)")
    sess = lab.server_session("MAIL FROM:<evasion@example.org>")
    t.check(not any(c.lower().startswith("rcpt") for c in K.received_commands(sess)),
            "%s: the server never received the RCPT" % how, str(K.received_commands(sess)))
    good = "good-%s-%d@lab-mail.net" % (how, os.getpid())
    got = run_client(lab, how, "mail.example.org", good)
    t.equal([l[:3] for l in got.get("rcpt", [])], ["250"],
            "%s: a good session through the same option is accepted by Postfix" % how)


def body(t, lab):
    case(t, lab, "oob")
    # Fast Open without a cookie exchange: 0x1 (client) | 0x4 (no cookie).
    lab.client("sysctl", "-qw", "net.ipv4.tcp_fastopen=5")
    case(t, lab, "fastopen")


def post(t, lab):
    st = lab.stats()["total"]
    t.check(st["syn_data_stripped"] >= 2, "helogate stripped the data of the Fast Open SYNs",
            str(st["syn_data_stripped"]))
    t.check(st["urgent_cleared"] >= 2, "helogate cleared URG on the urgent segments",
            str(st["urgent_cleared"]))


if __name__ == "__main__":
    sys.exit(K.run_test("evasion", body, post=post))
