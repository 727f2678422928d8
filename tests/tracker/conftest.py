"""Real moving parts for the worker and fault tests: a Celery worker (in this process,
or as a subprocess), Redis, and processes that must be waited for and cleaned up.

Services we cannot reach skip on a laptop and fail in CI (``require_service``); a test
about PostgreSQL skips when the suite runs on SQLite.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import free_port, require_service

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def wait_until(check: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll ``check`` until it returns something true; fail naming ``what`` after
    ``timeout`` seconds. For waiting on another thread or process, never on a clock."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


# --- Redis ------------------------------------------------------------------------


def redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The suite's Redis broker (CELERY_BROKER_URL), emptied of our queue's leftovers:
    a killed worker leaves its message unacknowledged, and a status change in an earlier
    test may have rung the doorbell with nobody listening."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    require_service(
        url.startswith("redis://"),
        "set CELERY_BROKER_URL=redis://127.0.0.1:6379/N to run the worker tests",
    )
    require_service(redis_ping(url), f"Redis at {url} does not answer")
    forget_queue(url)
    yield url
    forget_queue(url)


def forget_queue(url: str | None = None) -> None:
    """Drop Kombu's keys for the default queue (in the suite's own database number)."""
    import redis

    url = url or os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://") and redis_ping(url):
        redis.Redis.from_url(url).delete("celery", "unacked", "unacked_index")


# Loopback only, nothing written to disk, in the foreground (a child we can stop).
REDIS_ARGS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")


class OwnRedis:
    """A redis-server of this test's own, on a free loopback port, that the test may
    stop and start again (never the machine's shared one)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), *REDIS_ARGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: redis_ping(self.url), timeout=10, what=f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    require_service(binary is not None, "redis-server is not installed")
    server = OwnRedis(binary)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait(timeout=10)


# --- A Celery worker in this process ---------------------------------------------


class Finished:
    """Counts the tasks a worker in this process has finished, by name."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.results: list[tuple[str, object]] = []
        self._changed = threading.Condition()

    def __call__(self, sender=None, task=None, retval=None, **kwargs) -> None:  # task_postrun
        with self._changed:
            self.counts[task.name] += 1
            self.results.append((task.name, retval))
            self._changed.notify_all()

    def wait(self, name: str, count: int, timeout: float = 30) -> None:
        name = f"tracker.alerts.tasks.{name}"
        with self._changed:
            done = self._changed.wait_for(lambda: self.counts[name] >= count, timeout)
        assert done, f"{name} ran {self.counts[name]} time(s), not {count}: {self.results}"


def close_connections(**kwargs) -> None:
    """The worker thread's database connection, closed after each task: the test
    database is dropped at the end of the session, which an open connection blocks."""
    from django.db import connections

    connections.close_all()


@contextmanager
def worker_in_thread(app) -> Iterator[Finished]:
    """A real worker (solo pool, real broker) in a thread of this process: it shares
    the test's settings and its frozen clock, and it sees committed data only."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    finished = Finished()
    task_postrun.connect(finished, weak=False)
    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
        ):
            yield finished
    finally:
        task_postrun.disconnect(finished)
        task_postrun.disconnect(close_connections)


@pytest.fixture
def celery_worker(transactional_db, redis_url) -> Iterator[Finished]:
    from config.celery import app

    with worker_in_thread(app) as finished:
        yield finished


# --- Processes --------------------------------------------------------------------


def database_url_for_subprocess() -> str:
    """The pytest database, as a DATABASE_URL for another process; a test that needs
    one skips on SQLite, whose test database lives in this process's memory."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: another process cannot open the SQLite test database")
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    # No archiving of the shipped record's real addresses from a test's worker.
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        TRACKER_ARCHIVE_ON_SAVE="false",
        **values,
    )
    return env


class Processes:
    """Subprocesses started by one test, each logging to a file, each killed with its
    process group when the test ends, however it ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.files: list[IO[bytes]] = []

    def _log_file(self, name: str) -> IO[bytes]:
        self.files.append((self.logs / f"{name}.log").open("ab"))
        return self.files[-1]

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self._log_file(name)
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, proc))
        return proc

    def start_piped(
        self, name: str, args: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """A process the test talks to: lines in on stdin, lines out on stdout."""
        log = self._log_file(name)
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            bufsize=0,
        )
        self.started.append((name, proc))
        return proc

    def read_line(self, name: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline().decode() if ready else ""
        if not line:
            pytest.fail(f"{name} answered nothing within {timeout:.0f} s:\n{self.log(name)}")
        return line

    def run(self, args: list[str], env: dict[str, str], timeout: float = 120) -> str:
        done = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the process and its group (a prefork worker's children too)."""
        if proc.returncode is None:  # not reaped yet, so the group id is still ours
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop_all(self) -> None:
        for _, proc in self.started:
            self.kill(proc)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        for file in self.files:
            file.close()


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()
