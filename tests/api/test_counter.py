"""The change counter behind the API's ETags, with real commits (transactional)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import F

from commitments.models import Milestone
from tracker.api.models import ChangeCounter


def counter() -> int:
    return ChangeCounter.objects.get(pk=1).value


@pytest.mark.django_db(transaction=True)
def test_a_transaction_bumps_the_counter_once_however_many_rows_it_changes(agreements):
    if connection.vendor != "postgresql":
        pytest.skip("the once-per-transaction guard is PostgreSQL's (deferred triggers)")
    before = counter()
    with transaction.atomic():
        changed = Milestone.objects.update(version=F("version") + 1)
        Milestone.objects.update(version=F("version") + 1)
    assert changed == Milestone.objects.count() > 10
    assert counter() == before + 1
    # …and every committed transaction does bump it.
    Milestone.objects.filter(key="ministerial-convened").update(title="Renamed")
    assert counter() == before + 2
