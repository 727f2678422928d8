"""The operator's scripts (scripts/): a bad argument or setting, or a missing
prerequisite, stops them with one line naming it, before anything starts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script(
    tmp_path: Path, *args: str, root: Path = ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "TRACKER_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [str(root / "scripts" / args[0]), *args[1:]],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "abc", "PORT=abc is not a port number (1 to 65535)"),
        ("PORT", "99999", "PORT=99999 is not a port number (1 to 65535)"),
        ("PORT", "0", "PORT=0 is not a port number (1 to 65535)"),
        ("WEB_WORKERS", "two", "WEB_WORKERS=two is not a number of web processes (1 or more)"),
        ("WEB_WORKERS", "0", "WEB_WORKERS=0 is not a number of web processes (1 or more)"),
    ],
)
def test_run_refuses_a_bad_port_or_worker_count_before_starting(tmp_path, name, value, says):
    done = script(tmp_path, "run", **{name: value})
    assert (done.returncode, done.stderr) == (2, f"scripts/run: {says}\n")
    assert not (tmp_path / "var" / "tracker.sqlite3").exists()  # nothing migrated


MAKE_PROD = "no virtual environment in .venv; make install-prod (or make run) makes it"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["manage", "check"], f"scripts/manage: {MAKE_PROD}"),
        (["run"], f"scripts/manage: {MAKE_PROD}"),  # its first step
        (
            ["bench"],
            "scripts/bench: no virtual environment in .venv; make install (or make bench) makes it",
        ),
    ],
)
def test_the_scripts_name_a_missing_virtual_environment(tmp_path, args, says):
    fresh = tmp_path / "checkout"  # a checkout where make has not run
    shutil.copytree(ROOT / "scripts", fresh / "scripts")
    done = script(tmp_path, *args, root=fresh)
    assert (done.returncode, done.stderr) == (1, f"{says}\n")


@pytest.mark.parametrize("sizes", ["lots", "10000,x", "0", "10,-5"])
def test_bench_names_milestone_counts_that_are_not(tmp_path, sizes):
    done = script(tmp_path, "bench", "sweep", BENCH_SWEEP_SIZES=sizes)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"sweep.py: error: argument --sizes: {sizes!r} is not a comma-separated list of "
        "milestone counts (BENCH_SWEEP_SIZES)"
    )
