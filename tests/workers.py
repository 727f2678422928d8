"""Loaded by scripts/test (``-p tests.workers``) before Django reads its settings.

``make test`` runs the suite in two processes (pytest-xdist). pytest-django gives each
its own test database (``test_tracker_gw0``, ``test_tracker_gw1``); this gives each its
own Redis databases and files, in the environment, so that the servers and workers a
test starts as subprocesses see the same stores as the test: worker ``gwN`` uses Redis
database ``d - 2N`` (mod 16) where the environment names ``d``, and
``$TRACKER_VAR_DIR/gwN``. One worker's cache flush or broker queue is never the other's.

Tests marked ``serial`` need the PostgreSQL server to themselves: the event feed shows
a transaction's events once no older transaction is open anywhere on the server, and
the other process's tests hold theirs open. ``--serial=skip`` leaves them out (the
parallel pass), ``--serial=only`` runs them alone (then scripts/test runs them in one
process).
"""

from __future__ import annotations

import os
import re

import pytest


def _own_stores(worker: str) -> None:
    n = int(worker.removeprefix("gw"))
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        match = re.fullmatch(r"(redis://[^/]+)/(\d+)", url)
        if match:
            os.environ[name] = f"{match[1]}/{(int(match[2]) - 2 * n) % 16}"
    var = os.environ.get("TRACKER_VAR_DIR")
    if var:
        os.environ["TRACKER_VAR_DIR"] = os.path.join(var, worker)
        os.makedirs(os.environ["TRACKER_VAR_DIR"], exist_ok=True)


if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _own_stores(worker)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--serial",
        choices=["all", "skip", "only"],
        default="all",
        help="tests marked serial: run with the others (all), leave out, or run alone",
    )


# The longest modules first, so that no process is left running one alone at the end.
FIRST = ("hosts", "browser", "celery")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        marks = {m.name for m in item.iter_markers()}
        return next((i for i, name in enumerate(FIRST) if name in marks), len(FIRST))

    items.sort(key=rank)  # stable: within a rank, the collection order
    choice = config.getoption("serial")
    if choice == "all":
        return
    keep, drop = [], []
    for item in items:
        serial = item.get_closest_marker("serial") is not None
        (keep if serial == (choice == "only") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
