#!/usr/bin/env python3
"""Lab test 10: the verdict policy an ISP can deploy (issue 10).

helogate runs in enforce mode with --action not-fqdn=detect and an
--allow-clients file that starts without the client's address:
  1. EHLO www (not-fqdn, detect): delivered, one event "detected";
  2. EHLO mx.lab-mail.net, the name Postfix announces in its 220 greeting
     (no --local-name given): rejected as matches-rcpt;
  3. EHLO localhost: rejected (the client is not exempt yet);
  4. the client's address is added to the file, SIGHUP: the next session
     (EHLO localhost) is delivered, counted "allowed", no event; a session
     held open across the reload goes on untouched;
  5. the file gets a bad line, SIGHUP: helogate logs FILE:LINE and keeps
     the whole old policy: EHLO localhost is still delivered.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labkit as K  # noqa: E402

PID = os.getpid()
ALLOW = None  # the --allow-clients file, in the test's log directory


def err_log(lab):
    try:
        with open(os.path.join(lab.logdir, "helogate.err"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sighup(t, lab, needle, what):
    before = err_log(lab).count(needle)
    with open(os.path.join(lab.dir, "helogate.pid")) as f:
        wrapper = f.read().strip()
    # helogate itself, the child of the timeout wrapper: the wrapper would
    # pass one signal on, but also arm its kill-after timer (timeout -k).
    kids = subprocess.run(["pgrep", "-P", wrapper], capture_output=True, text=True).stdout.split()
    t.check(len(kids) == 1, "helogate runs under the lab's timeout wrapper", kids)
    os.kill(int(kids[0]), signal.SIGHUP)
    for _ in range(100):
        if err_log(lab).count(needle) > before:
            break
        time.sleep(0.05)
    log = err_log(lab)
    return t.check(log.count(needle) > before, what, log[-600:])


def delivered(t, lab, helo, rcpt, label):
    tok = "hg-policy-%d-%s" % (PID, rcpt.split("@")[0])
    sw = lab.swaks(helo, rcpt, "--body", tok, "--header", "Subject: " + tok)
    after = sw.after(K.P_MAIL_OK)
    t.check(after[:3] == [K.P_MAIL_OK, K.P_RCPT_OK, K.P_DATA] and len(after) == 5
            and after[3].startswith("250 2.0.0 Ok: queued as "),
            "%s: every reply is Postfix's, the message queued" % label, sw.tail())
    t.check(lab.wait_message(tok) is not None, "%s: the message is delivered" % label)


def rejected(t, lab, helo, rcpt, template, label):
    sw = lab.swaks(helo, rcpt)
    t.equal(sw.after(K.P_MAIL_OK), [K.P_MAIL_OK, template.format(rcpt), K.R_BYE],
            "%s: the exact 550 at RCPT" % label)


def events_for(lab, rcpt):
    return [e for e in lab.events() if e.get("rcpt") == rcpt]


def body(t, lab):
    # 1. per-reason action
    delivered(t, lab, "www", "pol1@lab-mail.net", "EHLO www with not-fqdn=detect")
    ev = events_for(lab, "pol1@lab-mail.net")
    t.check(len(ev) == 1 and ev[0].get("reason") == "not-fqdn"
            and ev[0].get("action") == "detected",
            "EHLO www: one event, not-fqdn, action 'detected'", ev)
    # 2. the server's own name, learned from its greeting
    rejected(t, lab, "mx.lab-mail.net", "pol2@lab-mail.net", K.R_BOGUS_RCPT,
             "EHLO mx.lab-mail.net (the server's greeting name)")
    # 3. not exempt yet
    rejected(t, lab, "localhost", "pol3@lab-mail.net", K.R_BOGUS, "EHLO localhost, not exempt")
    # a session open across the reload (greeting and EHLO done)
    held = lab.smtp_start(["mail:held%d@example.org" % PID, "pause", "rcpt:pol4@lab-mail.net",
                           "quit"], helo="mail.example.org")
    held.until_pause()
    # 4. the client exempted by a reload
    with open(ALLOW, "w") as f:
        f.write("# the lab's client\n%s\n" % K.CLIENT_IP)
    sighup(t, lab, "policy reloaded", "SIGHUP: one 'policy reloaded' line")
    log = err_log(lab).splitlines()
    line = [l for l in log if "policy reloaded" in l][-1:]
    t.check(line and "1 allowed clients" in line[0] and "actions: not-fqdn=detect" in line[0]
            and "rules)" in line[0] and line[0].split()[1].endswith("Z"),
            "the reload line is timestamped and says what was loaded", line)
    held.resume()
    recs = held.finish()
    t.check([r.get("code") for r in recs if r.get("step") == "rcpt"] == [250],
            "the session held across the reload went on (its RCPT accepted)", recs)
    delivered(t, lab, "localhost", "pol5@lab-mail.net", "EHLO localhost from an exempt client")
    t.equal(events_for(lab, "pol5@lab-mail.net"), [], "exempt client: no event")
    # 5. a bad file changes nothing
    with open(ALLOW, "w") as f:
        f.write("%s\n198.18.0.0/8\n" % K.CLIENT_IP)
    sighup(t, lab, "reload failed", "SIGHUP with a bad file: 'reload failed'")
    t.check("%s:2: bits set past the prefix length" % ALLOW in err_log(lab),
            "the failure names FILE:LINE and the reason", err_log(lab)[-400:])
    delivered(t, lab, "localhost", "pol6@lab-mail.net", "after a bad reload: still exempt")


def post(t, lab):
    st = lab.stats()["total"]
    # pol5, pol6, and the held session's RCPT, judged after the reload
    t.equal(st["allowed"], 3, "three verdicts 'allowed'")
    t.equal(st["verdicts"]["allowed"], 3, "verdicts: allowed 3")
    t.equal(st["detected"]["not-fqdn"], 1, "detected: not-fqdn 1")
    t.equal(st["rejected"]["matches-rcpt"], 1, "rejected: matches-rcpt 1")
    t.equal(st["rejected"]["localhost"], 1, "rejected: localhost 1")


if __name__ == "__main__":
    logdir = os.path.join(K.log_root(), "policy-files")
    os.makedirs(logdir, exist_ok=True)
    ALLOW = os.path.join(logdir, "allow-clients.txt")
    with open(ALLOW, "w") as f:
        f.write("# nobody exempt yet\n")
    sys.exit(K.run_test("policy", body, mode="enforce", post=post,
                        extra=("--allow-clients", ALLOW, "--action", "not-fqdn=detect")))
