#!/usr/bin/env python3
"""A second SMTP client implementation for the lab: Python's smtplib.

usage: smtp_client.py SERVER
Runs two scripted sessions with the bogus HELO 'localhost' and prints, as
JSON, every command with the reply code and text it got:
  dialogue: MAIL, RCPT x2, RSET, NOOP, MAIL, RCPT, QUIT, then whether the
            connection was closed;
  starttls: STARTTLS (offered by the server), then MAIL, RCPT, QUIT in
            plain text, as an opportunistic client does when TLS is refused.
"""
import json
import smtplib
import sys

server = sys.argv[1]


def step(log, name, fn):
    try:
        code, msg = fn()
    except smtplib.SMTPResponseException as e:
        code, msg = e.smtp_code, e.smtp_error
    log.append([name, code, msg.decode() if isinstance(msg, bytes) else msg])


def dialogue():
    log = []
    s = smtplib.SMTP(server, 25, local_hostname="localhost", timeout=20)
    s.ehlo()
    step(log, "mail", lambda: s.mail("first@example.org"))
    step(log, "rcpt", lambda: s.rcpt("one@lab-mail.net"))
    step(log, "rcpt", lambda: s.rcpt("two@example.com"))
    step(log, "rset", lambda: s.docmd("RSET"))
    step(log, "noop", lambda: s.docmd("NOOP"))
    step(log, "mail", lambda: s.mail("again@example.org"))
    step(log, "rcpt", lambda: s.rcpt("three@lab-mail.net"))
    step(log, "quit", lambda: s.docmd("QUIT"))
    try:
        closed = s.sock.recv(1) == b""
    except OSError:
        closed = True
    log.append(["closed" if closed else "open", 0, ""])
    s.close()
    return log


def starttls():
    log = []
    s = smtplib.SMTP(server, 25, local_hostname="localhost", timeout=20)
    s.ehlo()
    step(log, "starttls", lambda: s.docmd("STARTTLS"))
    step(log, "mail", lambda: s.mail("plain@example.org"))
    step(log, "rcpt", lambda: s.rcpt("tls@lab-mail.net"))
    step(log, "quit", lambda: s.docmd("QUIT"))
    s.close()
    return log


print(json.dumps({"dialogue": dialogue(), "starttls": starttls()}))
