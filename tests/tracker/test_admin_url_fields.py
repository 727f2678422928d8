"""Every address field of the admin's forms assumes https for an address typed without
a scheme: Django 6.0's default, asked for now (Django 5.2 warns otherwise, and the test
run makes Django's deprecation warnings errors: pyproject.toml)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory

from tracker.alerts.forms import WebhookEndpointForm


def url_fields(form_class: type[forms.BaseForm]) -> list[forms.URLField]:
    return [f for f in form_class.base_fields.values() if isinstance(f, forms.URLField)]


def test_every_admin_form_assumes_https(db):
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("root", "root@example.org", "pass-root")
    found = {}
    for model, model_admin in admin.site._registry.items():
        found[model.__name__] = url_fields(model_admin.get_form(request))
        for inline in model_admin.get_inline_instances(request):
            formset = inline.get_formset(request)
            found[f"{model.__name__}.{inline.model.__name__}"] = url_fields(formset.form)
    checked = {name: fields for name, fields in found.items() if fields}
    # The record's evidence addresses, webhook targets and watched sources among them.
    assert {"Milestone", "WebhookEndpoint", "WatchedSource"} <= set(checked)
    assert {
        name: [f.assume_scheme for f in fields]
        for name, fields in checked.items()
        if any(f.assume_scheme != "https" for f in fields)
    } == {}


def test_a_webhook_address_without_a_scheme_is_https():
    assert WebhookEndpointForm.base_fields["url"].clean("hooks.example.org/x") == (
        "https://hooks.example.org/x"
    )
