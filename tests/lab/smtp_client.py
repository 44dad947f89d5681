#!/usr/bin/env python3
"""A scripted SMTP client on Python's smtplib, for the helogate lab.

usage: smtp_client.py [--server IP] [--port N] [--helo NAME] [--greeting ehlo|helo|none]
                      [--timeout S] STEP...

Connects, greets (EHLO NAME by default), runs the steps in order and prints
one JSON object per line for the greeting and for every step:

  {"step": "rcpt", "arg": "u@lab-mail.net", "code": 550,
   "reply": ["550 5.7.1 u@lab-mail.net... Access denied - bogus HELO"]}

"reply" holds the reply lines as the server sent them ("CODE-text" /
"CODE text"). A step that met a closed or reset connection has "code": null
and "error": "disconnected" | "reset" | "timeout"; the steps after it are
not run (one line each with "error": "not run").

Steps:
  ehlo[:NAME] | helo[:NAME]
                         greet again (by default with the --helo NAME)
  mail:ADDR  rcpt:ADDR   MAIL FROM:<ADDR>, RCPT TO:<ADDR>
  rset | noop | quit     the command, one reply
  data:FILE              DATA; on 354 the bytes of FILE (CRLF line ends,
                         dot-stuffed, as smtplib does), then "." and the
                         final reply (step "data-end")
  bdat:FILE              BDAT <size> LAST with the bytes of FILE, one reply
  starttls               STARTTLS; on 220 the TLS handshake (no certificate
                         check) and a new EHLO; otherwise go on in plain text
  cmd:TEXT               any command line, one reply
  pipeline:C1|C2|...     every command in one write, then one reply each
                         (RFC 2920); "step" is "pipeline", one object per reply
  pause                  print {"step": "pause"} and wait for a line on stdin
                         (lets a test look at the server meanwhile)
  sleep:SECONDS
  close                  wait for the server to close: "how" is "fin" (orderly
                         close), "rst" (reset) or "open" (nothing within the
                         timeout); the client then closes its side
"""
import argparse
import json
import re
import smtplib
import socket
import ssl
import sys


def emit(obj):
    print(json.dumps(obj), flush=True)


def wire_lines(code, msg):
    """smtplib gives the code and the texts joined by newlines; rebuild
    the lines as they were on the wire."""
    if code is None or code < 0:
        return []
    texts = (msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg).split("\n")
    return [f"{code}-{t}" for t in texts[:-1]] + [f"{code} {texts[-1]}".rstrip()]


class Stop(Exception):
    pass


class Client:
    def __init__(self, args):
        self.a = args
        self.s = smtplib.SMTP(timeout=args.timeout)
        self.dead = None

    def record(self, step, arg, fn):
        if self.dead:
            emit({"step": step, "arg": arg, "code": None, "error": "not run"})
            return None
        try:
            code, msg = fn()
        except smtplib.SMTPResponseException as e:  # smtplib's own checks
            code, msg = e.smtp_code, e.smtp_error
        except smtplib.SMTPServerDisconnected:
            return self.fail(step, arg, "disconnected")
        except ConnectionResetError:
            return self.fail(step, arg, "reset")
        except (socket.timeout, TimeoutError):
            return self.fail(step, arg, "timeout")
        emit({"step": step, "arg": arg, "code": code, "reply": wire_lines(code, msg)})
        return code

    def fail(self, step, arg, why):
        self.dead = why
        emit({"step": step, "arg": arg, "code": None, "error": why})
        return None

    def greet(self, how, name=None):
        name = name or self.a.helo
        if how == "helo":
            return self.record("helo", name, lambda: self.s.helo(name))
        return self.record("ehlo", name, lambda: self.s.ehlo(name))

    def data(self, path):
        with open(path, "rb") as f:
            body = f.read()
        if self.record("data", path, lambda: self.s.docmd("DATA")) != 354:
            return
        # As smtplib.SMTP.data() does: CRLF line ends, dot-stuffing, then
        # the terminating "." line.
        body = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", body)
        body = re.sub(rb"(?m)^\.", b"..", body)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"

        def go():
            self.s.send(body + b".\r\n")
            return self.s.getreply()
        self.record("data-end", "", go)

    def bdat(self, path):
        with open(path, "rb") as f:
            body = f.read()

        def go():
            self.s.send(b"BDAT %d LAST\r\n" % len(body) + body)
            return self.s.getreply()
        return self.record("bdat", path, go)

    def starttls(self):
        code = self.record("starttls", "", lambda: self.s.docmd("STARTTLS"))
        if code == 220:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                self.s.sock = ctx.wrap_socket(self.s.sock, server_hostname=self.a.server)
                self.s.file = None
                self.s.helo_resp = self.s.ehlo_resp = None
                self.s.esmtp_features = {}
                self.s.does_esmtp = False
                emit({"step": "tls", "arg": self.s.sock.version(), "code": 0, "reply": []})
            except (ssl.SSLError, OSError) as e:
                self.fail("tls", "", "tls: " + str(e))
                return
            self.greet("ehlo")

    def pipeline(self, cmds):
        if self.dead:
            emit({"step": "pipeline", "arg": "|".join(cmds), "code": None, "error": "not run"})
            return
        try:
            self.s.send("".join(c + "\r\n" for c in cmds).encode())
        except OSError:
            self.fail("pipeline", "|".join(cmds), "disconnected")
            return
        for c in cmds:
            self.record("pipeline", c, self.s.getreply)

    def close_wait(self):
        if self.dead:
            emit({"step": "close", "how": self.dead})
            return
        sock = self.s.sock
        try:
            data = sock.recv(4096) if sock else b""
            how = "fin" if data == b"" else "data:" + data.decode("utf-8", "replace")
        except ConnectionResetError:
            how = "rst"
        except (socket.timeout, TimeoutError):
            how = "open"
        emit({"step": "close", "how": how})
        self.s.close()

    def run(self, steps):
        try:
            code, msg = self.s.connect(self.a.server, self.a.port)
            emit({"step": "connect", "arg": self.a.server, "code": code,
                  "reply": wire_lines(code, msg)})
        except (OSError, smtplib.SMTPException) as e:
            emit({"step": "connect", "arg": self.a.server, "code": None, "error": str(e)})
            return 1
        if self.a.greeting != "none":
            self.greet(self.a.greeting)
        for step in steps:
            name, _, arg = step.partition(":")
            if name in ("ehlo", "helo"):
                self.greet(name, arg)
            elif name == "mail":
                self.record("mail", arg, lambda: self.s.docmd(f"MAIL FROM:<{arg}>"))
            elif name == "rcpt":
                self.record("rcpt", arg, lambda: self.s.docmd(f"RCPT TO:<{arg}>"))
            elif name in ("rset", "noop", "quit"):
                self.record(name, "", lambda: self.s.docmd(name.upper()))
            elif name == "cmd":
                self.record("cmd", arg, lambda: self.s.docmd(arg))
            elif name == "data":
                self.data(arg)
            elif name == "bdat":
                self.bdat(arg)
            elif name == "starttls":
                self.starttls()
            elif name == "pipeline":
                self.pipeline(arg.split("|"))
            elif name == "pause":
                emit({"step": "pause"})
                sys.stdin.readline()
            elif name == "sleep":
                import time
                time.sleep(float(arg))
            elif name == "close":
                self.close_wait()
            else:
                print(f"smtp_client: unknown step '{step}'", file=sys.stderr)
                return 2
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default="198.18.0.25")
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--helo", default="mail.example.org")
    p.add_argument("--greeting", choices=("ehlo", "helo", "none"), default="ehlo")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("steps", nargs="*")
    a = p.parse_args()
    return Client(a).run(a.steps)


if __name__ == "__main__":
    sys.exit(main())
