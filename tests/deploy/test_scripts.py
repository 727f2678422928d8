"""The operator's scripts (scripts/): a bad argument or setting, or a missing
prerequisite, stops them with one line naming it, before anything starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "TRACKER_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [str(ROOT / "scripts" / args[0]), *args[1:]],
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
