"""A live helogate for the integration tests: by default two net_null ports
(an endless stream of 64-byte frames on each, forwarded to the other), no
hugepages, no PCI, a file prefix of its own; plus a client of DPDK's
telemetry socket.

    with Live(binary, "hg-tel", ["--stats-period", "1"]) as h:
        h.telemetry("/helogate/stats")
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time


def runtime_dir(prefix):
    """Where EAL puts the telemetry socket of a file prefix (eal_filesystem.c)."""
    if os.geteuid() == 0:
        base = "/var/run"
    else:
        base = os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix)


class Live:
    def __init__(self, binary, name, args=(), eal=(), env=None, stdin=None, stdout=None,
                 shconf=True, ready="worker(s),", vdevs=("net_null0", "net_null1"), huge=False):
        self.prefix = f"{name}-{os.getpid()}"
        self.log = tempfile.NamedTemporaryFile(prefix=name + "-", suffix=".log", delete=False)
        cmd = [binary, "-l", "0,1", "--no-pci", "-m", "512" if not huge else "256",
               "--file-prefix", self.prefix, "--log-level", "notice"]
        if not huge:
            cmd.append("--no-huge")
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += list(eal)
        if not shconf:
            cmd.append("--no-shconf")
        cmd += ["--", "--mode", "detect", "--flows", "4096", "--blocks", "1024",
                "--mbufs", "4095"] + list(args)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=self.log, env=env,
                                     start_new_session=True)
        self.ready = ready

    def stderr(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ready in self.stderr():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def telemetry(self, command, timeout=10):
        return telemetry(self.prefix, command, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        os.unlink(self.log.name)


def telemetry(prefix, command, timeout=10):
    """One command on /var/run/dpdk/PREFIX/dpdk_telemetry.v2 (SOCK_SEQPACKET:
    the server greets with a JSON object, then answers each command with
    one JSON object {command: value})."""
    path = os.path.join(runtime_dir(prefix), "dpdk_telemetry.v2")
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(timeout)
        s.connect(path)
        greeting = json.loads(s.recv(1024 * 16).decode())
        s.send(command.encode())
        reply = json.loads(s.recv(greeting.get("max_output_len", 16384)).decode())
    return reply.get(command.split(",")[0])
