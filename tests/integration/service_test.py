#!/usr/bin/env python3
"""helogate as a systemd service, without systemd running:

  - the unit meson built (dist/helogate.service.in) passes
    `systemd-analyze verify` (syntax, every key known, the executables
    exist, the man page it names exists); the ExecStart paths point at this
    build's binaries and MANPATH at the man pages meson built, since nothing
    is installed. A broken copy of the unit must fail the same check, so the
    check is known to bite. Skipped (77) without systemd-analyze.
  - the unit says what the issue asks: Type=notify, WatchdogSec,
    Restart=on-failure, ExecReload=/bin/kill -HUP $MAINPID.
  - with libsystemd (NOTIFY=yes), the notify protocol end to end: helogate
    started with NOTIFY_SOCKET (a datagram socket of this test) and
    WATCHDOG_USEC sends READY=1 once its ports run, WATCHDOG=1 repeatedly,
    RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 at SIGTERM.

usage: service_test.py SOURCE_ROOT BUILD_ROOT NOTIFY(yes|no)
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from live import Live  # noqa: E402

SRC, BUILD, NOTIFY = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
HELOGATE = os.path.join(BUILD, "app", "helogate")
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail))
    if not ok:
        failures += 1
    return ok


def verify(unit_text, work, name="helogate.service"):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(unit_text)
    env = dict(os.environ, MANPATH=os.path.join(work, "man"))
    r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                       env=env, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def unit_checks(work):
    with open(os.path.join(BUILD, "dist", "helogate.service")) as f:
        unit = f.read()
    keys = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, v)
    for k, v in [("Type", "notify"), ("Restart", "on-failure"),
                 ("ExecReload", "/bin/kill -HUP $MAINPID"), ("NotifyAccess", "main")]:
        check(keys.get(k) == v, f"unit: {k}={v}", str(keys.get(k)))
    check("WatchdogSec" in keys, "unit: WatchdogSec is set")
    check("--config" in keys.get("ExecStart", "") and "--check-config" in
          keys.get("ExecStartPre", ""), "unit: ExecStartPre checks the configuration ExecStart uses")
    if shutil.which("systemd-analyze") is None:
        print("systemd-analyze not installed: verify skipped")
        return
    # Man pages where `man` finds them; binaries of this build.
    man1, man8 = os.path.join(work, "man", "man1"), os.path.join(work, "man", "man8")
    os.makedirs(man1)
    os.makedirs(man8)
    for page, d in [("helogate.8", man8), ("helogate-check.1", man1)]:
        built = os.path.join(BUILD, "docs", "man", page)
        if os.path.exists(built):
            shutil.copy(built, d)
    have_man = os.path.exists(os.path.join(man8, "helogate.8")) and shutil.which("man")
    bindir = os.path.dirname(keys["ExecStart"].split()[0])
    local = unit.replace(bindir + "/helogate", os.path.join(BUILD, "app", "helogate"))
    if not have_man:
        print("man pages not built or no man: Documentation= not checked")
        local = "\n".join(l for l in local.splitlines() if not l.startswith("Documentation="))
    rc, out = verify(local, work)
    check(rc == 0 and out == "", "systemd-analyze verify passes without a message",
          f"rc={rc} {out}")
    for broken, why in [("Type=notify", "Type=notfy"), ("WatchdogSec=10s", "WatchdogSecs=10s"),
                        (os.path.join(BUILD, "app", "helogate") + " $", "/nonexistent/helogate $")]:
        rc, out = verify(local.replace(broken, why), work)
        check(rc != 0 or out != "", f"systemd-analyze verify catches '{why}'", out)


def notify_checks(work):
    path = os.path.join(work, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(1)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    got = []

    def collect(seconds, until=None):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
            if until and until in got[-1]:
                return True
        return False

    h = Live(HELOGATE, "hg-notify", env=env, shconf=False)
    try:
        check(collect(60, "READY=1"), "notify: READY=1 once the ports run", h.stderr()[-500:])
        check("worker(s)" in h.stderr(), "notify: READY=1 comes after the start-up line")
        collect(2.5)
        check(sum("WATCHDOG=1" in m for m in got) >= 3,
              "notify: WATCHDOG=1 at least every WatchdogSec/2", repr(got))
        got.clear()
        h.signal(signal.SIGHUP)
        collect(10, "READY=1")
        kinds = [m.split("\n")[0] for m in got if "WATCHDOG" not in m]
        check(kinds[:2] == ["RELOADING=1", "READY=1"], "notify: SIGHUP → RELOADING=1, READY=1",
              repr(got))
        got.clear()
        h.signal(signal.SIGTERM)
        collect(10, "STOPPING=1")
        check(any(m.startswith("STOPPING=1") for m in got), "notify: SIGTERM → STOPPING=1",
              repr(got))
        rc = h.stop()
        check(rc == 0, "notify: helogate exits 0", f"rc={rc} {h.stderr()[-500:]}")
    finally:
        h.stop()
        sock.close()


def main():
    with tempfile.TemporaryDirectory() as work:
        unit_checks(work)
        if NOTIFY:
            notify_checks(work)
        else:
            print("built without libsystemd: the notify protocol is not checked")
    sys.exit(1 if failures else 0)


main()
