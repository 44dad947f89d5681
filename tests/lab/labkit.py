"""Shared pieces of the live-lab tests (tests/lab/test_*.py).

A test is a function body(t, lab): `lab` is a Lab (one fresh lab per test,
built with scripts/netns-lab.sh under a unique HG_LAB_ID and torn down
whatever happens), `t` a Checker that prints one PASS/FAIL line per check.
run_test() does the rest: the root check (exit 77 = skipped), the lab's
life, the closing summary, the paths of the logs on failure, the exit code.

Environment:
  HG_BRIDGE=kernel   run through a Linux bridge instead of helogate: checks
                     of helogate's own behaviour then fail, as they must, and
                     the header says so.
  HG_LAB_LOGDIR      where the logs go (one sub-directory per test); default
                     a new temporary directory.
  HELOGATE           the binary (meson passes the build's); HG_LAB_SRC the
                     source root (default: two levels above this file).
  HG_LAB_KEEP=1      keep the lab's state directory (Postfix spool, Maildir).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("HG_LAB_SRC") or os.path.dirname(os.path.dirname(HERE))
LABSH = os.path.join(SRC, "scripts", "netns-lab.sh")
SMTP_CLIENT = os.path.join(HERE, "smtp_client.py")
BRIDGE = os.environ.get("HG_BRIDGE", "helogate")

CLIENT_IP = "198.18.0.10"
SERVER_IP = "198.18.0.25"
DOMAIN = "lab-mail.net"

# helogate's replies in a taken-over session (docs/design.md).
R_BOGUS = "550 5.7.1 {}... Access denied - bogus HELO"
R_BOGUS_IP = "550 5.7.1 {}... Access denied - bogus HELO (198.18.0.25)"
R_BOGUS_RCPT = "550 5.7.1 {}... Access denied - bogus HELO matches RCPT"
R_SENDER_OK = "250 2.1.0 {}... Sender ok"
R_OK = "250 2.0.0 Ok"
R_BYE = "221 2.0.0 Bye"
R_NO_RCPT = "554 5.5.1 Error: no valid recipients"
R_NO_TLS = "554 5.7.1 Error: TLS not available - bogus HELO"
# Postfix's own replies.
P_MAIL_OK = "250 2.1.0 Ok"
P_RCPT_OK = "250 2.1.5 Ok"
P_DATA = "354 End data with <CR><LF>.<CR><LF>"
P_TLS_READY = "220 2.0.0 Ready to start TLS"
P_BANNER = "220 mx.lab-mail.net ESMTP"

# Drop, once per connection, the first TCP segment from port 25 whose
# payload starts with "550 " and the first that starts with "221 ". "@ih,0,32"
# is the first 4 payload bytes after the TCP header (options included); the
# conntrack mark remembers what was dropped (bit 1: the 550, bit 2: the 221)
# so the retransmissions pass. No tc netem in this kernel: this is the
# "lost segment".
DROP_ONCE_NFT = """
table inet hglab {
    counter drop550 { }
    counter drop221 { }
    chain input {
        type filter hook input priority -10; policy accept;
        tcp sport 25 @ih,0,32 0x35353020 ct mark and 0x1 == 0x0 ct mark set ct mark or 0x1 counter name "drop550" drop
        tcp sport 25 @ih,0,32 0x32323120 ct mark and 0x2 == 0x0 ct mark set ct mark or 0x2 counter name "drop221" drop
    }
}
"""

_log_root = None


def log_root():
    """HG_LAB_LOGDIR, or one temporary directory for this process."""
    global _log_root
    if _log_root is None:
        _log_root = os.environ.get("HG_LAB_LOGDIR") or tempfile.mkdtemp(prefix="hg-lab-logs-")
        os.makedirs(_log_root, exist_ok=True)
        os.chmod(_log_root, 0o755)  # Postfix (as postfix) may write its log below
    return _log_root


class Lab:
    """One lab: its namespaces, Postfix instance, bridge and logs."""

    def __init__(self, name):
        self.name = name
        # Unique among live labs: the id names the namespaces and veths.
        # HG_LAB_ID (1-8 letters or digits) names one engineer's labs
        # apart from another's; tests run one at a time, so one id serves.
        self.id = os.environ.get("HG_LAB_ID") or "p%d" % os.getpid()
        self.logdir = os.path.join(log_root(), name)
        shutil.rmtree(self.logdir, ignore_errors=True)
        os.makedirs(self.logdir)
        self.dir = tempfile.mkdtemp(prefix="hg-lab-%s-" % name)
        self.env = dict(os.environ, HG_LAB_ID=self.id, HG_LAB_DIR=self.dir,
                        HG_LAB_LOGDIR=self.logdir, HG_BRIDGE=BRIDGE)
        self.maildir = os.path.join(self.dir, "postfix", "mail", "maildir", "new")
        self.maillog_path = os.path.join(self.logdir, "maillog")
        self.events_path = os.path.join(self.logdir, "events.jsonl")
        self.stats_path = os.path.join(self.logdir, "stats.json")
        self.is_up = False
        self.came_up = False  # 'up' succeeded: post-run checks make sense
        self.transcripts = 0

    # ---- the lab's life

    def sh(self, *args, timeout=60, check=False, input=None):
        r = subprocess.run([LABSH, *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise RuntimeError("netns-lab.sh %s: %s" % (args[0], r.stderr.strip()[-800:]))
        return r

    def up(self, mode="enforce", quiet_server=False, extra=()):
        args = ["up", "--mode", mode]
        if quiet_server:
            args.append("--quiet-server")
        if extra:
            args += ["--", *extra]
        self.is_up = True  # even half up: down cleans whatever exists
        self.sh(*args, timeout=120, check=True)
        self.came_up = True

    def down(self):
        if self.is_up:
            self.sh("down", timeout=60)
            self.is_up = False

    def restart_bridge(self, mode="enforce", extra=()):
        args = ["restart-bridge", "--mode", mode] + (["--", *extra] if extra else [])
        self.sh(*args, timeout=120, check=True)

    def cleanup(self, keep):
        if not keep and not os.environ.get("HG_LAB_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- running things in the namespaces (every client under timeout)

    def client(self, *cmd, timeout=30, input=None):
        return self.sh("client", "timeout", "-k", "5", str(timeout), *cmd,
                       timeout=timeout + 20, input=input)

    def server(self, *cmd, timeout=30):
        return self.sh("server", "timeout", "-k", "5", str(timeout), *cmd, timeout=timeout + 20)

    def save(self, what, text):
        """Keep a client transcript among the logs."""
        self.transcripts += 1
        path = os.path.join(self.logdir, "%02d-%s.txt" % (self.transcripts, what))
        with open(path, "w") as f:
            f.write(text)
        return path

    def swaks(self, helo, to, *extra, sender="sender@example.org", timeout=30):
        r = self.client("swaks", "--server", SERVER_IP, "--helo", helo, "--from", sender,
                        "--to", to, *extra, timeout=timeout)
        self.save("swaks-" + re.sub(r"[^A-Za-z0-9.]", "_", helo),
                  "$ swaks --helo %s --to %s %s\n%s%s" % (helo, to, " ".join(extra),
                                                           r.stdout, r.stderr))
        return Swaks(r)

    def smtp(self, steps, helo="mail.example.org", greeting="ehlo", timeout=10):
        """smtp_client.py in the client namespace; the list of its records."""
        r = self.client(sys.executable, SMTP_CLIENT, "--helo", helo, "--greeting", greeting,
                        "--timeout", str(timeout), *steps, timeout=timeout * (len(steps) + 2))
        self.save("smtplib-" + re.sub(r"[^A-Za-z0-9.]", "_", helo),
                  "$ smtp_client.py --helo %s %s\n%s%s" % (helo, " ".join(steps), r.stdout,
                                                           r.stderr))
        return parse_records(r.stdout)

    def smtp_start(self, steps, helo="mail.example.org", timeout=10):
        """smtp_client.py with 'pause' steps: an Interactive handle."""
        cmd = [LABSH, "client", "timeout", "-k", "5", "60", sys.executable, SMTP_CLIENT,
               "--helo", helo, "--timeout", str(timeout), *steps]
        p = subprocess.Popen(cmd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        return Interactive(self, p, helo, steps)

    # ---- what the server saw

    def maillog(self):
        try:
            with open(self.maillog_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def server_session(self, marker, wait=3.0):
        """The log lines of the smtpd session that received a command
        containing `marker` (debug_peer_list logs "< peer: COMMAND"), from
        "connect from" to "disconnect from" (waits for that line)."""
        deadline = time.time() + wait
        while True:
            lines = self.maillog().splitlines()
            sess = _session_of(lines, marker)
            if sess and ("disconnect from" in sess[-1] or time.time() > deadline):
                return sess
            if time.time() > deadline:
                return sess
            time.sleep(0.1)

    def tcp(self, side, states="established", port_filter="( sport = :25 )"):
        """ss lines for TCP sockets in one namespace, port 25."""
        r = self.sh(side, "ss", "-Htn", "state", states, port_filter)
        return [l for l in r.stdout.splitlines() if l.strip()]

    def lingering(self, side, grace=1.0):
        """TCP connections on :25 in one namespace ('client' or 'server')
        in any state but TIME-WAIT, polled until none is left or `grace`
        seconds have passed; what is left then."""
        flt = "( dport = :25 )" if side == "client" else "( sport = :25 )"
        deadline = time.time() + grace
        while True:
            left = [l for l in self.tcp(side, "connected", flt) if not l.startswith("TIME-WAIT")]
            if not left or time.time() > deadline:
                return left
            time.sleep(0.05)

    def server_established(self):
        return self.tcp("server", "established", "( sport = :25 )")

    def wait_server_released(self, limit=1.0):
        """True when the server has no ESTABLISHED socket on :25 within
        `limit` seconds (polled every 50 ms)."""
        deadline = time.time() + limit
        while True:
            if not self.server_established():
                return True
            if time.time() > deadline:
                return False
            time.sleep(0.05)

    def messages(self):
        """name -> bytes of every delivered message (Maildir new/)."""
        out = {}
        if os.path.isdir(self.maildir):
            for name in sorted(os.listdir(self.maildir)):
                with open(os.path.join(self.maildir, name), "rb") as f:
                    out[name] = f.read()
        return out

    def count_messages(self):
        return len(os.listdir(self.maildir)) if os.path.isdir(self.maildir) else 0

    def wait_message(self, token, limit=10.0):
        """The stored message containing `token`, or None after `limit` s."""
        deadline = time.time() + limit
        tok = token.encode()
        while True:
            found = [d for d in self.messages().values() if tok in d]
            if found or time.time() > deadline:
                return found[0] if found else None
            time.sleep(0.1)

    def postfix(self, action):
        """Stop or start the lab's Postfix; 'stop' returns once the master
        process is gone (postfix stop only signals it)."""
        etc = os.path.join(self.dir, "postfix", "etc")
        r = self.server("postfix", "-c", etc, action)
        if action == "stop":
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.server("postfix", "-c", etc, "status").returncode != 0:
                    break
                time.sleep(0.1)
        return r

    def mail_queue(self):
        r = self.server("postqueue", "-c", os.path.join(self.dir, "postfix", "etc"), "-p")
        return r.stdout.strip()

    # ---- losing a segment once (nftables in the client namespace)

    def drop_once_rules(self):
        """Load DROP_ONCE_NFT into the client namespace; True on success."""
        r = self.client("nft", "-f", "-", input=DROP_ONCE_NFT)
        if r.returncode != 0:
            self.save("nft-error", r.stderr)
        return r.returncode == 0

    def drop_once_remove(self):
        self.client("nft", "delete", "table", "inet", "hglab")

    def nft_counter(self, name):
        """Packets counted by one of DROP_ONCE_NFT's named counters."""
        r = self.client("nft", "-j", "list", "counter", "inet", "hglab", name)
        try:
            for item in json.loads(r.stdout)["nftables"]:
                if "counter" in item:
                    return item["counter"]["packets"]
        except (ValueError, KeyError):
            pass
        return None

    # ---- what helogate wrote

    def helogate_exited(self):
        """helogate's exit status if it has exited (netns-lab.sh's watcher
        writes helogate.exit), else None (running, or no helogate)."""
        try:
            with open(os.path.join(self.logdir, "helogate.exit")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    def events(self):
        try:
            with open(self.events_path) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def stats(self):
        """helogate's counters, written when 'down' stops it."""
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None


def _session_of(lines, marker):
    pid = idx = None
    for i, l in enumerate(lines):
        m = re.search(r"postfix/smtpd\[(\d+)\]: < [^:]+: (.*)$", l)
        if m and marker in m.group(2):
            pid, idx = m.group(1), i
            break
    if pid is None:
        return []
    tag = "postfix/smtpd[%s]:" % pid
    start = idx
    while start > 0 and not (tag in lines[start] and " connect from " in lines[start]):
        start -= 1
    out = []
    for l in lines[start:]:
        if tag in l:
            out.append(l)
            if " disconnect from " in l:
                break
    return out


def received_commands(session):
    """The commands a session's smtpd received, in order."""
    out = []
    for l in session:
        m = re.search(r"postfix/smtpd\[\d+\]: < [^:]+: (.*)$", l)
        if m:
            out.append(m.group(1))
    return out


def parse_records(stdout):
    recs = []
    for line in stdout.splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    return recs


def replies_of(records, step=None):
    """The single-line reply of every record (of one step kind)."""
    out = []
    for r in records:
        if step is None or r["step"] == step:
            out.append(r["reply"][-1] if r.get("reply") else "<%s>" % r.get("error", "none"))
    return out


class Swaks:
    """A swaks run: its transcript, the replies (text after '<-', '<~' or
    '<**'), the commands it sent."""

    def __init__(self, r):
        self.rc = r.returncode
        self.out = r.stdout + r.stderr
        self.replies = []
        self.sent = []
        for line in r.stdout.splitlines():
            m = re.match(r"^\s*<(?:-|~|\*\*)\s+(.*)$", line)
            if m:
                self.replies.append(m.group(1))
            m = re.match(r"^\s*(?:-|~)>\s(.*)$", line)
            if m:
                self.sent.append(m.group(1))

    def after(self, reply):
        """The replies from the first one equal to `reply` on."""
        return self.replies[self.replies.index(reply):] if reply in self.replies else []

    def pipelined(self, *verbs):
        """True when swaks sent these commands back to back, before any
        reply came (the transcript shows sends and replies in order)."""
        lines = [l.strip() for l in self.out.splitlines()]
        for i, l in enumerate(lines):
            if l.startswith("-> " + verbs[0]):
                return all(j < len(lines) and lines[j].startswith("-> " + v)
                           for j, v in enumerate(verbs, start=i))
        return False

    def tail(self, n=6):
        return " | ".join(self.replies[-n:])


class Interactive:
    """A running smtp_client.py: read its records up to each 'pause'."""

    def __init__(self, lab, p, helo, steps):
        self.lab, self.p, self.records = lab, p, []
        self.label = "smtplib-%s %s" % (helo, " ".join(steps))

    def until_pause(self, limit=20.0):
        """Records up to the next pause (None if the client ended first)."""
        deadline = time.time() + limit
        got = []
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                return None
            rec = json.loads(line)
            if rec["step"] == "pause":
                self.records += got
                return got
            got.append(rec)
        return None

    def resume(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()

    def finish(self, limit=60):
        try:
            out, err = self.p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        self.records += parse_records(out)
        self.lab.save("smtplib", self.label + "\n" + "\n".join(map(json.dumps, self.records))
                      + "\n" + err)
        return self.records


class Checker:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("PASS " + what, flush=True)
        else:
            self.failed += 1
            print("FAIL " + what + ("\n       " + str(detail) if detail != "" else ""),
                  flush=True)
        return bool(ok)

    def equal(self, got, want, what):
        return self.check(got == want, what, "got %r, want %r" % (got, want))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def run_test(name, body, mode="enforce", needs_helogate=True, quiet_server=False,
             extra=(), bridge=None, post=None):
    """Build a lab, run body(t, lab), tear the lab down, report.

    needs_helogate: the test checks helogate's own behaviour (550 replies,
    events); through the kernel bridge its checks fail, and the header says
    that this is expected. post(t, lab): checks after 'down' (helogate's
    stats.json). Returns the process exit code."""
    global BRIDGE
    if bridge:
        BRIDGE = bridge
    if os.geteuid() != 0:
        print("SKIP %s: the lab needs root (network namespaces)" % name)
        return 77
    for tool in ("ip", "swaks", "smtp-source", "postfix", "ethtool", "openssl", "ss"):
        if shutil.which(tool) is None:
            print("SKIP %s: %s is missing (scripts/bootstrap.sh lab)" % (name, tool))
            return 77
    signal.signal(signal.SIGTERM, _raise_interrupt)
    t = Checker(name)
    lab = Lab(name)
    via = "helogate, %s mode" % mode if BRIDGE == "helogate" else "the Linux kernel bridge"
    print("== lab test %s, through %s (lab id %s)" % (name, via, lab.id), flush=True)
    if BRIDGE != "helogate" and needs_helogate:
        print("NOTE: this test checks what only helogate does (550 replies, takeover, "
              "events); through the kernel bridge those checks are EXPECTED TO FAIL.",
              flush=True)
    started = time.time()
    try:
        lab.up(mode=mode, quiet_server=quiet_server, extra=extra)
        body(t, lab)
    except KeyboardInterrupt as e:
        t.check(False, "the test ran to its end", "interrupted: %s" % e)
    except Exception as e:  # the lab or the harness broke: say where
        t.check(False, "the test ran to its end",
                "%r\n%s" % (e, traceback.format_exc(limit=4)))
    finally:
        try:
            lab.down()
        except Exception as e:
            t.check(False, "the lab came down", repr(e))
    if post is not None and BRIDGE == "helogate" and lab.came_up and lab.stats() is not None:
        try:
            post(t, lab)
        except Exception as e:
            t.check(False, "post-run checks ran", "%r\n%s" % (e, traceback.format_exc(limit=4)))
    if BRIDGE == "helogate" and lab.came_up:
        helogate_exit_checks(t, lab)
    lab.cleanup(keep=t.failed > 0)
    print("== %s: %d passed, %d failed (%.1f s)" % (name, t.passed, t.failed,
                                                   time.time() - started), flush=True)
    if t.failed:
        print("logs of %s (%s):" % (name, lab.logdir))
        for f in sorted(os.listdir(lab.logdir)):
            print("   " + os.path.join(lab.logdir, f))
        if os.path.isdir(lab.dir):
            print("lab state (Postfix spool, Maildir): " + lab.dir)
    return 1 if t.failed else 0


def helogate_exit_checks(t, lab):
    """After every run through helogate: it stopped cleanly, wrote its
    counters, and every mbuf went back to its pool."""
    try:
        with open(os.path.join(lab.logdir, "helogate.exit")) as f:
            status = f.read().strip()
    except FileNotFoundError:
        status = "unknown (no helogate.exit)"
    err = ""
    try:
        with open(os.path.join(lab.logdir, "helogate.err"), errors="replace") as f:
            err = "".join(f.readlines()[-3:])
    except FileNotFoundError:
        pass
    t.check(status == "0", "helogate exited with status 0 when stopped (status %s)" % status, err)
    st = lab.stats()
    if not t.check(st is not None, "helogate wrote its counters when stopped (stats.json)"):
        return
    t.equal(st.get("mbufs_in_use"), 0, "helogate: every mbuf back in its pool")
    t.equal(st["total"].get("tx_failed"), 0, "helogate: no frame failed to send")
    p = st["total"]["packets"]
    dropped = sum(p["dropped"].values())
    t.check(p["received"] + p["injected"] == p["transmitted"] + dropped + p["held"],
            "helogate: every packet ended in one cause (received + injected = transmitted + "
            "dropped + held)", json.dumps(p))
