"""Hosts on one machine: network namespaces (``trk-*``) joined by veth links to a
bridge in a switch namespace, addresses in 10.231.0.0/24. The test process reaches them
through one more link (10.231.0.1). Needs root and iproute2."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SWITCH = "trk-sw"
ROOT_LINK = "trk-root"
GATEWAY = "10.231.0.1"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class Host:
    name: str
    address: str
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ns(self) -> str:
        return f"trk-{self.name}"

    def start(
        self, label: str, args: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{self.name}-{label}.log").open("ab")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *args],
            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.procs[label] = proc
        return proc

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, *args], check=True, capture_output=True, text=True
        )

    def signal(self, label: str, sig: int) -> None:
        proc = self.procs.get(label)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)

    def kill_all(self) -> None:
        """SIGKILL to every process this host runs (each with its children)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def log(self, label: str) -> str:
        path = self.logs / f"{self.name}-{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Network:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.hosts: dict[str, Host] = {}

    def create(self, hosts: dict[str, str]) -> None:
        self.destroy(list(hosts))  # what a killed run may have left
        ip("netns", "add", SWITCH)
        ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
        ip("-n", SWITCH, "link", "set", "br0", "up")
        for index, (name, address) in enumerate(hosts.items()):
            host = Host(name, address, self.logs)
            ip("netns", "add", host.ns)
            ip("-n", host.ns, "link", "set", "lo", "up")
            self._link(f"trk-h{index}", f"trk-s{index}", host.ns, "eth0")
            ip("-n", host.ns, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", host.ns, "link", "set", "eth0", "up")
            self.hosts[name] = host
        self._link(ROOT_LINK, "trk-sroot", None, ROOT_LINK)
        ip("addr", "add", f"{GATEWAY}/24", "dev", ROOT_LINK)
        ip("link", "set", ROOT_LINK, "up")

    def _link(self, inner: str, outer: str, ns: str | None, rename: str) -> None:
        ip("link", "add", inner, "type", "veth", "peer", "name", outer)
        ip("link", "set", outer, "netns", SWITCH)
        ip("-n", SWITCH, "link", "set", outer, "master", "br0")
        ip("-n", SWITCH, "link", "set", outer, "up")
        if ns is not None:
            ip("link", "set", inner, "netns", ns)
            ip("-n", ns, "link", "set", inner, "name", rename)

    def add_address(self, name: str, address: str) -> None:
        ip("-n", self.hosts[name].ns, "addr", "add", f"{address}/24", "dev", "eth0")

    def blackhole(self, name: str, address: str, on: bool) -> None:
        """Packets from host ``name`` to ``address`` are dropped silently (sends on an
        open connection succeed and the reads wait; new connections are refused)."""
        ip("-n", self.hosts[name].ns, "route", "add" if on else "del", "blackhole",
           f"{address}/32")  # fmt: skip

    def destroy(self, names: list[str]) -> None:
        for host in self.hosts.values():
            host.kill_all()
        ip("link", "del", ROOT_LINK, check=False)
        for name in [*names, "sw"]:
            ip("netns", "del", f"trk-{name}", check=False)
        time.sleep(0.2)
