#!/usr/bin/env python3
"""Lab test: a bogus client cannot walk past helogate with one ordinary
socket option (issue 9). Through a real Linux client and a real Postfix:

a) urgent data (MSG_OOB) before RCPT: helogate clears URG, so Postfix reads
   the urgent byte inline, exactly as helogate parsed it; the NOOP gets its
   250 and the RCPT of the bogus session gets helogate's 550;
b) TCP Fast Open (data on the SYN): helogate strips the SYN's data, the
   client sends it again after the handshake, and the session is inspected:
   the RCPT gets the 550.
c) one write holding DATA (or AUTH PLAIN) and then RCPT: helogate holds the
   bytes after DATA until Postfix answers it; Postfix refuses DATA (no
   recipient yet), so they are commands, and the RCPT gets the 550;
d) "RCPT\x0bTO:<x>": Postfix's tokenizer splits on any isspace(), so does
   helogate: the 550;
e) a 5,000-byte NOOP line (Postfix keeps 2,048 bytes and skips to LF), then
   RCPT: in sync, the 550;
f) 33 pipelined RSETs then MAIL and RCPT in one write (a pipeline deeper
   than helogate's reply queue is held, not passed): the 550.
g) SMTP smuggling (CVE-2023-51764) against this Postfix 3.7, which takes a
   bare "\\n.\\n" as the end of data: a good session smuggles a second
   transaction with EHLO localhost in one write; helogate reads the bytes
   after the ambiguous end as commands too and the smuggled RCPT gets the
   550.
In each, the server never received the RCPT, and a good session through the
same trick is accepted by Postfix (250 to its RCPT).
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


def rcpt_reply(got):
    """The RCPT's reply: its own step, or the last of a one-write group."""
    if "rcpt" in got:
        return got["rcpt"]
    group = [r for r in got.get("group", []) if r]
    return group[-1] if group else None


def case(t, lab, how):
    rcpt = "%s-%d@lab-mail.net" % (how, os.getpid())
    got = run_client(lab, how, "localhost", rcpt)
    t.equal(rcpt_reply(got), [K.R_BOGUS.format(rcpt)],
            "%s: the bogus session's RCPT gets helogate's 550" % how)
    if how == "oob":
        t.equal([l[:3] for l in got.get("noop", [])], ["250"],
                "oob: the NOOP with an urgent last byte is answered 250 (read inline)")
    sess = lab.server_session("MAIL FROM:<evasion@example.org>")
    t.check(not any(c.lower().startswith("rcpt") for c in K.received_commands(sess)),
            "%s: the server never received the RCPT" % how, str(K.received_commands(sess)))
    if how in ("data", "auth"):
        return  # a good session's DATA is answered 354: the RCPT is body then
    good = "good-%s-%d@lab-mail.net" % (how, os.getpid())
    got = run_client(lab, how, "mail.example.org", good)
    t.equal([l[:3] for l in (rcpt_reply(got) or [])], ["250"],
            "%s: a good session through the same trick is accepted by Postfix" % how)


def smuggle(t, lab):
    """SMTP smuggling against this Postfix (3.7, smtpd_forbid_bare_newline
    = no: a bare LF ends a line, so "\\n.\\n" ends the message): a good
    session smuggles a second transaction with EHLO localhost. helogate reads
    the bytes after the ambiguous end as commands too (shadow lines), judges
    the smuggled RCPT with the smuggled HELO and takes it over."""
    victim = "victim-%d@lab-mail.net" % os.getpid()
    got = run_client(lab, "smuggle", "mail.example.org", victim)
    t.equal([l[:3] for l in got.get("first_rcpt", [])], ["250"],
            "smuggle: the good transaction's RCPT is accepted by Postfix")
    t.check([K.R_BOGUS.format(victim)] in got.get("replies", []),
            "smuggle: the smuggled RCPT gets helogate's 550", str(got.get("replies")))
    log = lab.maillog()
    t.check("RCPT TO:<%s>" % victim not in log,
            "smuggle: Postfix never received the smuggled RCPT", "")
    ev = [e for e in lab.events() if e.get("rcpt") == victim]
    t.check(ev and ev[0].get("reason") == "localhost",
            "smuggle: the smuggled RCPT is judged with the smuggled HELO (localhost)", str(ev))


def body(t, lab):
    case(t, lab, "oob")
    # Fast Open without a cookie exchange: 0x1 (client) | 0x4 (no cookie).
    lab.client("sysctl", "-qw", "net.ipv4.tcp_fastopen=5")
    case(t, lab, "fastopen")
    for how in ("data", "auth", "vt", "longline", "rsets"):
        case(t, lab, how)
    smuggle(t, lab)


def post(t, lab):
    st = lab.stats()["total"]
    t.check(st["syn_data_stripped"] >= 2, "helogate stripped the data of the Fast Open SYNs",
            str(st["syn_data_stripped"]))
    t.check(st["urgent_cleared"] >= 2, "helogate cleared URG on the urgent segments",
            str(st["urgent_cleared"]))


if __name__ == "__main__":
    sys.exit(K.run_test("evasion", body, post=post))
