#!/usr/bin/env python3
"""End-to-end tests: real SMTP clients and a real Postfix through helogate.

usage: lab_test.py SOURCE_ROOT BUILD_ROOT [--kernel-bridge]

Builds the lab (scripts/netns-lab.sh: client and server namespaces joined
by helogate on net_af_packet, enforce mode), then checks what the client saw
(reply codes and exact texts) and what the server saw (Postfix's log of
every command it received, its Maildir, its sockets). With --kernel-bridge
the lab runs through a Linux bridge instead and only the delivery test
runs: a check of the lab itself. Needs root; exits 77 (skip) without it.
Prints PASS/FAIL per check and a closing "N passed, N failed" line.
"""
import json
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time

SRC, BUILD = sys.argv[1], sys.argv[2]
KERNEL_BRIDGE = "--kernel-bridge" in sys.argv[3:]
LAB = os.environ.get("HG_LAB_DIR") or tempfile.mkdtemp(prefix="hg-lab-")
ENV = dict(os.environ, HG_LAB_DIR=LAB, HELOGATE=os.path.join(BUILD, "app", "helogate"))
LABSH = os.path.join(SRC, "scripts", "netns-lab.sh")
SERVER = "198.18.0.25"
MAILDIR = os.path.join(LAB, "postfix", "mail", "maildir", "new")
MAILLOG = os.path.join(LAB, "postfix", "maillog")
BANLIST = os.path.join(SRC, "tests", "data", "banlist.txt")

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS " + what, flush=True)
    else:
        failed += 1
        print("FAIL " + what + (": " + detail if detail else ""), flush=True)
    return ok


def lab(*args, timeout=60):
    return subprocess.run([LABSH, *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def lab_up(*helogate_args):
    args = ["up", "--kernel-bridge"] if KERNEL_BRIDGE else ["up", "--", *helogate_args]
    r = lab(*args, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("lab up failed: " + r.stderr.strip())


def lab_down():
    lab("down")


def swaks(helo, to, *extra, body=None):
    """Run swaks in the client namespace; returns its transcript lines."""
    cmd = ["client", "timeout", "30", "swaks", "--server", SERVER, "--helo", helo,
           "--from", "sender@example.org", "--to", to, "--hide-informational", *extra]
    if body is not None:
        cmd += ["--body", body]
    r = lab(*cmd)
    return r.stdout.splitlines()


def replies(lines):
    """The server replies swaks printed ('<-' ok, '<**' error), text only."""
    out = []
    for line in lines:
        m = re.match(r"^\s*<(?:-|\*\*)\s+(.*)$", line)
        if m:
            out.append(m.group(1))
    return out


def server_log():
    try:
        with open(MAILLOG, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def server_sessions():
    """Established connections on the server's port 25, seen from the server."""
    r = lab("server", "ss", "-Htn", "state", "established", "( sport = :25 )")
    return [l for l in r.stdout.splitlines() if l.strip()]


def wait_no_server_sessions(limit=1.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if not server_sessions():
            return True
        time.sleep(0.05)
    return not server_sessions()


def delivered_with(token, limit=5.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if os.path.isdir(MAILDIR):
            for name in os.listdir(MAILDIR):
                with open(os.path.join(MAILDIR, name), "rb") as f:
                    data = f.read()
                if token.encode() in data:
                    return data
        time.sleep(0.1)
    return None


def test_good_helo_is_delivered_byte_for_byte():
    token = "hg-good-%d" % os.getpid()
    body = "Line one %s\r\n..leading dot line\r\nRCPT TO:<x@y> in the body\r\nlast line" % token
    lines = swaks("mail.example.org", "good@lab-mail.net", body=body)
    r = replies(lines)
    check(any(x.startswith("250 2.0.0 Ok: queued") for x in r),
          "good HELO: the server queues the message", str(r[-4:]))
    data = delivered_with(token)
    if check(data is not None, "good HELO: the message is in the Maildir"):
        stored = data.split(b"\n\n", 1)[1].replace(b"\r\n", b"\n")
        sent = body.replace("\r\n", "\n").encode()  # swaks dot-stuffs, Postfix unstuffs
        check(stored.rstrip(b"\n") == sent.rstrip(b"\n"),
              "good HELO: the body arrived byte for byte", repr(stored[:200]))


BOGUS = [
    ("127.0.0.1", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("[127.0.0.1]", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("localhost", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("www", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("rad.internal", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("fakedomain.xyz", "550 5.7.1 {rcpt}... Access denied - bogus HELO"),
    ("198.18.0.25", "550 5.7.1 {rcpt}... Access denied - bogus HELO (198.18.0.25)"),
    ("[198.18.0.25]", "550 5.7.1 {rcpt}... Access denied - bogus HELO (198.18.0.25)"),
    ("lab-mail.net", "550 5.7.1 {rcpt}... Access denied - bogus HELO matches RCPT"),
]


def test_each_bogus_reason_gets_its_550_and_the_server_is_released():
    for i, (helo, text) in enumerate(BOGUS):
        rcpt = "bogus%d@lab-mail.net" % i
        r = replies(swaks(helo, rcpt))
        check("250 2.1.0 Ok" in r, f"HELO {helo}: MAIL FROM answered by the server", str(r))
        check(text.format(rcpt=rcpt) in r, f"HELO {helo}: the exact 550 at RCPT", str(r[-3:]))
        check(rcpt not in server_log(), f"HELO {helo}: the server never saw the RCPT")
        check(wait_no_server_sessions(1.0), f"HELO {helo}: the server's side is gone within 1 s",
              str(server_sessions()))


def test_pipelined_commands_are_answered_once_in_order():
    r = replies(swaks("localhost", "pipe@lab-mail.net", "--pipeline"))
    tail = r[r.index("250 2.1.0 Ok"):] if "250 2.1.0 Ok" in r else r
    check(tail[:3] == ["250 2.1.0 Ok",
                       "550 5.7.1 pipe@lab-mail.net... Access denied - bogus HELO",
                       "554 5.5.1 Error: no valid recipients"],
          "pipelining: MAIL, RCPT, DATA answered once each, in order", str(r))
    check("pipe@lab-mail.net" not in server_log(), "pipelining: the server never saw the RCPT")


def smtplib_client():
    return subprocess.run(
        ["ip", "netns", "exec", "hg-client", sys.executable,
         os.path.join(SRC, "tests", "lab", "smtp_client.py"), SERVER],
        capture_output=True, text=True, timeout=60)


def test_commands_after_the_rejection_get_postscreen_replies():
    r = smtplib_client()
    try:
        got = json.loads(r.stdout)
    except ValueError:
        check(False, "smtplib: the client ran", r.stderr[-500:])
        return
    want = [
        ["mail", 250, "2.1.0 Ok"],
        ["rcpt", 550, "5.7.1 one@lab-mail.net... Access denied - bogus HELO"],
        ["rcpt", 550, "5.7.1 two@example.com... Access denied - bogus HELO"],
        ["rset", 250, "2.0.0 Ok"],
        ["noop", 250, "2.0.0 Ok"],
        ["mail", 250, "2.1.0 again@example.org... Sender ok"],
        ["rcpt", 550, "5.7.1 three@lab-mail.net... Access denied - bogus HELO"],
        ["quit", 221, "2.0.0 Bye"],
        ["closed", 0, ""],
    ]
    check(got["dialogue"] == want, "smtplib: RCPTs, RSET, NOOP, MAIL, QUIT after the rejection",
          json.dumps(got["dialogue"]))
    tls = got["starttls"]
    check(tls[0] == ["starttls", 554, "5.7.1 Error: TLS not available - bogus HELO"],
          "STARTTLS with a bogus HELO is refused with a 5xx", json.dumps(tls))
    check(tls[1:] == [["mail", 250, "2.1.0 plain@example.org... Sender ok"],
                      ["rcpt", 550, "5.7.1 tls@lab-mail.net... Access denied - bogus HELO"],
                      ["quit", 221, "2.0.0 Bye"]],
          "STARTTLS refused: the client goes on in plain text and meets the 550",
          json.dumps(tls))
    check(wait_no_server_sessions(1.0), "smtplib: no server session left")


def test_lost_reply_segment_is_retransmitted():
    rule = ["-p", "tcp", "--sport", "25", "-m", "string", "--string", "lost@lab-mail.net",
            "--algo", "bm", "-j", "DROP"]
    lab("client", "iptables", "-I", "INPUT", *rule)
    proc = subprocess.Popen([LABSH, "client", "timeout", "30", "swaks", "--server", SERVER,
                             "--helo", "localhost", "--from", "s@example.org",
                             "--to", "lost@lab-mail.net", "--hide-informational"],
                            env=ENV, stdout=subprocess.PIPE, text=True)
    dropped = 0
    deadline = time.time() + 10
    while time.time() < deadline and dropped == 0:
        r = lab("client", "iptables", "-L", "INPUT", "-v", "-x", "-n")
        m = re.search(r"^\s*(\d+)\s+\d+\s+DROP", r.stdout, re.M)
        dropped = int(m.group(1)) if m else 0
        time.sleep(0.02)
    lab("client", "iptables", "-D", "INPUT", *rule)
    out, _ = proc.communicate(timeout=40)
    check(dropped >= 1, "lost segment: the first 550 segment was dropped on the client")
    check("550 5.7.1 lost@lab-mail.net... Access denied - bogus HELO" in replies(out.splitlines()),
          "lost segment: the client still gets the 550 (retransmitted)", out[-300:])


def test_load_good_delivered_bogus_rejected_nothing_hangs():
    """smtp-source for the good half (one run, 10 sessions at a time); the
    bogus half as one smtp-source per session, 10 at a time, since
    smtp-source stops at its first rejected recipient."""
    before = len(os.listdir(MAILDIR)) if os.path.isdir(MAILDIR) else 0
    n = int(os.environ.get("HG_LAB_LOAD", "500"))
    common = ["-f", "load@example.org", "-t", "load@lab-mail.net", SERVER + ":25"]
    good = subprocess.Popen([LABSH, "client", "timeout", "150", "smtp-source", "-s", "10",
                             "-m", str(n), "-M", "mail.example.org", *common], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bogus_cmd = ("seq %d | xargs -P 10 -I{} timeout 30 smtp-source -m 1 -M localhost %s"
                 % (n, " ".join(common)))
    bogus = subprocess.Popen([LABSH, "client", "timeout", "150", "bash", "-c", bogus_cmd],
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gout, gerr = good.communicate(timeout=180)
    bout, berr = bogus.communicate(timeout=180)
    check(good.returncode == 0, "load: the good smtp-source run ends cleanly", gerr[-300:])
    rejected = berr.count("550 5.7.1 load@lab-mail.net... Access denied - bogus HELO")
    check(rejected == n, f"load: every bogus session rejected ({rejected}/{n})", berr[-300:])
    deadline = time.time() + 20
    count = before
    while time.time() < deadline:
        count = len(os.listdir(MAILDIR)) if os.path.isdir(MAILDIR) else 0
        if count - before >= n:
            break
        time.sleep(0.2)
    check(count - before == n, f"load: every good message delivered ({count - before}/{n})")
    time.sleep(1.0)
    check(not server_sessions(), "load: no session left on the server", str(server_sessions()))
    r = lab("client", "ss", "-Htn", "( dport = :25 )")
    left = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith("TIME-WAIT")]
    check(not left, "load: no session left on the client", str(left[:3]))


def test_detect_mode_lets_the_bogus_session_through():
    lab_down()
    lab_up("--mode", "detect", "--banlist", BANLIST, "--local-domain", "lab-mail.net")
    token = "hg-detect-%d" % os.getpid()
    r = replies(swaks("localhost", "detect@lab-mail.net", body=token))
    check(any(x.startswith("250 2.0.0 Ok: queued") for x in r),
          "detect mode: the bogus session's message is queued", str(r[-3:]))
    check(delivered_with(token) is not None, "detect mode: and delivered")
    lab_down()
    with open(os.path.join(LAB, "events.jsonl")) as f:
        events = [json.loads(l) for l in f]
    mine = [e for e in events if e["rcpt"] == "detect@lab-mail.net"]
    check(len(mine) == 1 and mine[0]["action"] == "detected" and mine[0]["reason"] == "localhost",
          "detect mode: one 'detected' event", json.dumps(mine))


def main():
    if os.geteuid() != 0:
        print("SKIP: the lab needs root (network namespaces)")
        return 77
    try:
        lab_up("--banlist", BANLIST, "--local-domain", "lab-mail.net")
        test_good_helo_is_delivered_byte_for_byte()
        if not KERNEL_BRIDGE:
            test_each_bogus_reason_gets_its_550_and_the_server_is_released()
            test_pipelined_commands_are_answered_once_in_order()
            test_commands_after_the_rejection_get_postscreen_replies()
            test_lost_reply_segment_is_retransmitted()
            test_load_good_delivered_bogus_rejected_nothing_hangs()
            lab_down()
            for name in ("stats.json", "events.jsonl", "helogate.err"):
                os.replace(os.path.join(LAB, name), os.path.join(LAB, "enforce-" + name))
            with open(os.path.join(LAB, "enforce-stats.json")) as f:
                stats = json.load(f)
            check(stats["mbufs_in_use"] == 0, "every mbuf back in its pool after the run")
            rejected = sum(1 for l in open(os.path.join(LAB, "enforce-events.jsonl"))
                           if '"action":"rejected"' in l)
            # one per bogus reason, pipelining, 3 smtplib RCPTs, STARTTLS and
            # its RCPT, the lost segment, the load
            expect = len(BOGUS) + 1 + 3 + 2 + 1 + int(os.environ.get("HG_LAB_LOAD", "500"))
            check(rejected == expect,
                  f"one 'rejected' event per rejected RCPT ({rejected}, expected {expect})")
            test_detect_mode_lets_the_bogus_session_through()
    except Exception as e:  # the lab itself broke: report, then tear down
        check(False, "lab", repr(e))
    finally:
        lab_down()
    print(f"logs: {LAB}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
