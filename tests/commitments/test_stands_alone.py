"""The domain stands alone: with the tracker app absent from INSTALLED_APPS, every
module under commitments/ imports, and none of them pulls in tracker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import pkgutil, sys
import django
django.setup()
import commitments
from django.conf import settings
assert not any(a.startswith("tracker") for a in settings.INSTALLED_APPS)
names = [m.name for m in pkgutil.walk_packages(commitments.__path__, "commitments.")]
for name in names:
    if ".migrations." not in name and ".management." not in name:
        __import__(name)
import commitments.services
loaded = sorted(m for m in sys.modules if m == "tracker" or m.startswith("tracker."))
print("imported", len(names), "modules; tracker modules loaded:", loaded)
assert not loaded, loaded
"""


def test_commitments_imports_without_the_tracker_app(tmp_path):
    (tmp_path / "no_tracker_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [a for a in INSTALLED_APPS if not a.startswith('tracker')]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="no_tracker_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        SECRET_KEY=env.get("SECRET_KEY", "test-only-secret-key"),
    )
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tracker modules loaded: []" in done.stdout
