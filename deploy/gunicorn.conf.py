"""gunicorn's settings for a web host: ``gunicorn -c deploy/gunicorn.conf.py config.wsgi``.

Binds to GUNICORN_BIND, an address only the proxy reaches (127.0.0.1 when nginx runs on
the same host): Django trusts X-Forwarded-For only from TRUSTED_PROXIES, and nginx is
the one place that sets it. Database connections: WEB_WORKERS x WEB_THREADS per host
at most (docs/deploy.md, "Connection limits").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# A request that takes longer is killed (and logged): nothing here should take 30 s.
timeout = 30
graceful_timeout = 30
# Longer than nginx's upstream keepalive (60 s), so nginx closes idle connections
# first and never sends on one gunicorn has just closed.
keepalive = 75
max_requests = 10_000
max_requests_jitter = 1_000
# gunicorn's own reading of X-Forwarded-Proto: the same peers Django trusts.
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "127.0.0.1,::1")
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-forwarded-for}i)s"'

# Request counters of every worker process, added up by /metrics (prometheus_client's
# multiprocess mode). Set before the workers import the application.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="tracker-prometheus-"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server: object) -> None:
    # Counters start at zero with each start of the service.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
