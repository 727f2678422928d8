"""Starts what deploy/ describes, for the tests and bench/proxy.py: nginx with
deploy/nginx/tracker.conf (rendered with host and port values only, as an operator
would), gunicorn with deploy/gunicorn.conf.py. Loopback or test-host addresses only."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
from render import render  # noqa: E402

SERVER_NAME = "tracker.test"


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None and (ROOT / "scripts/ensure-nginx").exists():
        subprocess.run([str(ROOT / "scripts/ensure-nginx")], check=False)
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
    return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={SERVER_NAME}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def nginx_main_conf(directory: Path, site: Path, extra_http: str = "") -> Path:
    """The minimal main file nginx needs to run as a child of the test (its own pid,
    logs and temp paths); the site itself is deploy/'s, included unchanged."""
    conf = directory / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    conf.write_text(f"""{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    sendfile on;
    keepalive_timeout 65;
    {extra_http}
    include {site};
}}
""")
    return conf


@dataclass
class Nginx:
    directory: Path
    http_port: int
    https_port: int
    upstreams: list[str]
    static_root: Path
    extra_http: str = ""
    proc: subprocess.Popen[bytes] | None = None
    conf: Path = field(init=False)

    def render(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(self.directory)
        (self.directory / "cache").mkdir(exist_ok=True)
        site = self.directory / "tracker.conf"
        site.write_text(
            render(
                (ROOT / "deploy/nginx/tracker.conf").read_text(),
                {
                    "SERVER_NAME": SERVER_NAME,
                    "HTTP_PORT": str(self.http_port),
                    "HTTPS_PORT": str(self.https_port),
                    "UPSTREAMS": " ".join(self.upstreams),
                    "STATIC_ROOT": str(self.static_root),
                    "CACHE_DIR": str(self.directory / "cache"),
                    "CERT": str(cert),
                    "KEY": str(key),
                },
            )
        )
        self.conf = nginx_main_conf(self.directory, site, self.extra_http)
        return self.conf

    def command(self, binary: str, directives: str = "") -> list[str]:
        return [binary, "-c", str(self.conf), "-p", str(self.directory),
                "-g", f"daemon off; {directives}".strip()]  # fmt: skip

    def start(self, binary: str, prefix: list[str] | None = None, directives: str = "") -> None:
        self.render()
        check = subprocess.run(
            [binary, "-t", "-c", str(self.conf), "-p", str(self.directory)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(
            [*(prefix or []), *self.command(binary, directives)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "stderr.log").open("ab"),
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def gunicorn_command(workers: int = 2, threads: int = 4) -> list[str]:
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c", str(ROOT / "deploy/gunicorn.conf.py"),
        "--workers", str(workers), "--threads", str(threads),
        "--log-level", "warning", "--access-logfile", "/dev/null",
        "config.wsgi",
    ]  # fmt: skip


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


def https(host: str, port: int, timeout: float = 10) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(
        host, port, timeout=timeout, context=ssl._create_unverified_context()
    )


def get(
    conn: http.client.HTTPConnection,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers={"Host": SERVER_NAME, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data
