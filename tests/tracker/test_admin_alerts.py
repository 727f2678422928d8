from __future__ import annotations

import datetime as dt

from django.urls import reverse

from tracker.alerts import dispatch, sweep
from tracker.models import Alert, Subscription


def test_alerts_show_their_state_in_the_list_and_on_the_milestone(client, alice, ministerial):
    Subscription.objects.create(
        email="desk@example.org", agreement=ministerial.commitment.agreement
    )
    sweep.run(now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    dispatch.run()
    Alert.objects.filter(milestone=ministerial).update(failed=True, attempts=8)
    client.force_login(alice)

    listing = client.get(reverse("admin:tracker_alert_changelist") + "?state=failed")
    assert listing.status_code == 200
    assert [a.milestone_id for a in listing.context["cl"].result_list] == [ministerial.pk]
    assert b"failed" in listing.content

    page = client.get(reverse("admin:commitments_milestone_change", args=[ministerial.pk]))
    assert b"desk@example.org" in page.content and b"failed" in page.content


def test_a_subscription_to_something_that_is_no_number_is_a_form_error(admin_client, agreements):
    # Django's autocomplete widget looked the posted value up to show it again (a 500).
    url = reverse("admin:tracker_subscription_add")
    for field in ("agreement", "commitment", "milestone", "user"):
        body = {"email": "reader@example.org", "kinds": ["overdue"], "lead_days": "7"}
        response = admin_client.post(url, {**body, field: "x"})
        assert response.status_code == 200
        assert "Select a valid choice" in str(response.context["adminform"].form.errors[field])
    assert not Subscription.objects.filter(email="reader@example.org").exists()
