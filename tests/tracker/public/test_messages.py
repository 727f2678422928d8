"""Every interface string is in Japanese: makemessages finds the strings marked in a
copy of the code (so the committed .po is left alone), and msgfmt counts none
untranslated and none fuzzy. A new {% translate %} fails here until its Japanese is
written into locale/ja/LC_MESSAGES/django.po (scripts/messages update)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[3]
CODE = ("commitments", "config", "tracker", "locale", "manage.py")


def statistics(po: Path) -> dict[str, int]:
    """msgfmt's counts: {"translated": n, "fuzzy": n, "untranslated": n}."""
    found = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert found.returncode == 0, found.stderr
    counts = dict.fromkeys(("translated", "fuzzy", "untranslated"), 0)
    for n, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", found.stderr):
        counts[kind] = int(n)
    return counts


@pytest.fixture
def extracted(tmp_path) -> Path:
    require_service(bool(shutil.which("msgfmt")), "gettext's msgfmt is not installed")
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.mo"))
        else:
            shutil.copy(source, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "--no-obsolete", "-v", "0"],
        cwd=tmp_path,
        check=True,
        env={**os.environ, "SECRET_KEY": "messages", "TRACKER_VAR_DIR": str(tmp_path / "var")},
    )
    return tmp_path / "locale/ja/LC_MESSAGES/django.po"


def test_every_interface_string_has_its_japanese(extracted):
    counts = statistics(extracted)
    assert counts["translated"] > 300
    assert counts == {"translated": counts["translated"], "fuzzy": 0, "untranslated": 0}


def test_a_string_without_japanese_is_caught(extracted):
    """The check can fail: a new string in a template shows as untranslated."""
    template = extracted.parents[3] / "tracker/templates/tracker/public/home.html"
    template.write_text(template.read_text() + '{% translate "A string nobody translated" %}\n')
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "-v", "0"],
        cwd=extracted.parents[3],
        check=True,
        env={**os.environ, "SECRET_KEY": "messages"},
    )
    assert statistics(extracted)["untranslated"] == 1
