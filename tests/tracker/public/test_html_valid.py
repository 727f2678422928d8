"""Every public page type is valid HTML by html-validate (npm; installed by
scripts/test with ``npm ci`` from package-lock.json): 0 errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

from commitments.models import LogEntry
from tests.conftest import require_service
from tracker.alerts.unsubscribe import legacy_token as unsubscribe_token
from tracker.archive.models import Capture, LinkCheck

pytestmark = pytest.mark.usefixtures("frozen")
ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = ROOT / "node_modules" / ".bin" / "html-validate"


def test_every_page_type_is_valid_html(client, ministerial, tmp_path):
    require_service(
        VALIDATOR.exists() and shutil.which("node") is not None,
        "html-validate is not installed (npm ci)",
    )
    cache.clear()
    c, a = ministerial.commitment, ministerial.commitment.agreement
    LogEntry.objects.create(
        key="html-1",
        commitment=c,
        on=ministerial.due_on,
        kind=LogEntry.Kind.CHECKED,
        text="No Ministerial announced.",
        source_address="https://www.meti.go.jp/english/",
        source_passage="(nothing found)",
    )
    # Its page archived, and gone since (tracker/archive): the notes beside the address.
    copy = Capture.objects.create(
        address="https://www.meti.go.jp/english/",
        state=Capture.State.ARCHIVED,
        status=200,
        content_type="text/html",
        warc="2026/11/copy.warc.gz",
        fetched_at=timezone.now(),
    )
    LinkCheck.objects.create(
        address=copy.address, checked_at=timezone.now(), outcome="http_error", answers=False
    )
    pages = {
        "archived-copy": f"/archive/{copy.pk}/",
        "home": "/",
        "agreement": f"/agreements/{a.slug}/",
        "commitment": f"/agreements/{a.slug}/commitments/{c.key}/",
        "milestone": f"/milestones/{ministerial.pk}/",
        "as-of": f"/agreements/{a.slug}/?as_of=2026-04-26",
        "bad-as-of": "/?as_of=2026-02-30",
        "sources": "/sources/",
        "not-found": "/agreements/nope/",
        "unsubscribe": f"/unsubscribe/{unsubscribe_token('r@example.org')}/",
        "follow-error": None,
        "follow-sent": None,
    }
    # The Japanese pages too (/ja/…), and an English page that suggests them.
    pages |= {f"ja-{name}": f"/ja{url}" for name, url in pages.items() if url}
    bodies = {name: client.get(url).content for name, url in pages.items() if url}
    bodies["suggesting-ja"] = client.get("/", HTTP_ACCEPT_LANGUAGE="ja").content
    bodies["follow-error"] = client.post("/follow/", {"email": "x", "target": "nope"}).content
    bodies["follow-sent"] = client.post(
        "/follow/", {"email": "r@example.org", "target": f"milestone:{ministerial.pk}"}
    ).content
    assert b"the original page no longer answers; <a" in bodies["commitment"]
    files = []
    for name, body in bodies.items():
        path = tmp_path / f"{name}.html"
        path.write_bytes(body)
        files.append(str(path))
    run = subprocess.run(
        [
            str(VALIDATOR),
            "--config",
            str(ROOT / ".htmlvalidate.json"),
            "--formatter",
            "json",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(run.stdout or "[]")
    errors = [
        f"{Path(r['filePath']).name}:{m['line']} {m['ruleId']}: {m['message']}"
        for r in report
        for m in r["messages"]
        if m["severity"] == 2
    ]
    assert errors == []
    assert run.returncode == 0, run.stderr
