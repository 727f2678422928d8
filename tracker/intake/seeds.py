"""The shipped examples: official sources (disabled) and starting keywords, from
``seeds.json``; ``manage.py load_intake`` loads them. Idempotent by address and by
phrase: what exists is left as staff have it."""

from __future__ import annotations

import json
from pathlib import Path

from commitments.models import Agreement, Commitment

from .models import Keyword, WatchedSource

SEEDS = Path(__file__).with_name("seeds.json")


def load(path: Path = SEEDS) -> tuple[int, int]:
    """(sources created, keywords created). Sources always arrive disabled; rows for
    agreements or commitments not loaded yet are skipped (run it after
    load_agreements)."""
    data = json.loads(path.read_text())
    agreements = {a.slug: a for a in Agreement.objects.all()}
    sources = 0
    for row in data["sources"]:
        source, created = WatchedSource.objects.get_or_create(
            url=row["url"],
            defaults={"name": row["name"], "kind": row["kind"], "note": row["note"]},
        )
        if created:
            sources += 1
            source.agreements.set([agreements[s] for s in row["agreements"] if s in agreements])
    commitments = {
        (c.agreement.slug, c.key): c for c in Commitment.objects.select_related("agreement")
    }
    keywords = 0
    for row in data["keywords"]:
        commitment = commitments.get((row["agreement"], row["commitment"]))
        if commitment is None:
            continue
        for phrase in row["phrases"]:
            _, created = Keyword.objects.get_or_create(
                commitment=commitment, agreement=None, phrase=phrase, negative=False
            )
            keywords += created
    return sources, keywords
