"""Evidence addresses are shown as links: only what is safe to show (issue 8, findings
4 and 5)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments.models import Status
from commitments.services import TransitionError, evidence_url_problem, milestone_set_status

EVIDENCE = "https://www.meti.go.jp/press/ministerial"


@pytest.mark.parametrize(
    "url",
    [
        EVIDENCE,
        "http://example.org/report?id=3#p2",
        "https://münchen.de/bericht",  # valid IDNA, one script
        "https://xn--mnchen-3ya.de/",
        "https://例え.jp/",
    ],
)
def test_usable_addresses(url):
    assert evidence_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ('https://example.org/"><script>alert(1)</script>', "quote"),
        ("https://example.org/a b", "space"),
        ("https://example.org/<x>", "angle"),
        ("https://user:pass@example.org/", "user"),
        ("https://user@example.org/", "user"),
        ("https://exаmple.org/", "mixes scripts"),  # a Cyrillic "а"
        ("https://xn--exmple-4nf.org/", "mixes scripts"),  # the same, in punycode
        ("ftp://example.org/", "http"),
        ("javascript:alert(1)", "http"),
        ("https://a\u200bb.org/", "invisible"),
    ],
)
def test_unusable_addresses(url, words):
    problem = evidence_url_problem(url)
    assert problem is not None and words in problem


def test_the_service_refuses_a_look_alike(ministerial, alice):
    with pytest.raises(TransitionError) as refused:
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://meti.gо.jp/",  # a Cyrillic "о"
        )
    assert refused.value.field == "evidence_url"


def test_same_evidence_on_a_completed_milestone_keeps_completed_on(ministerial, alice):
    with time_machine.travel(dt.datetime(2026, 5, 1, 3, tzinfo=dt.UTC), tick=False):
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 4, 24),
        )
    ministerial.refresh_from_db()
    with time_machine.travel(dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC), tick=False):
        with pytest.raises(TransitionError):  # nothing to change: said so
            milestone_set_status(
                milestone=ministerial, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
            )
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE + "/minutes",
        )
    ministerial.refresh_from_db()
    assert ministerial.completed_on == dt.date(2026, 4, 24)
    assert ministerial.evidence_url == EVIDENCE + "/minutes"
