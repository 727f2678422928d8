"""The archived copy, under a path of its own: a banner page that says what it is,
when it was fetched (in the citing agreement's zone, named) and where the original
lives; and the raw body from the WARC, with its original content type, in a CSP
sandbox (no script runs, nothing is loaded from anywhere, an origin of its own)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from commitments import deadlines
from commitments.models import Agreement, LogEntry, Milestone, Source, StatusUpdate
from tracker.public.citations import cite, web_address

from . import warc
from .models import Capture, LinkCheck
from .services import SEED

log = logging.getLogger(__name__)

# Types a browser will not show in a sandbox: sent as a download instead.
DOWNLOADED = {"application/pdf"}
# sandbox without allow-scripts: no script runs, the page has an opaque origin (no
# cookies, no storage of ours); default-src 'none': it loads nothing (no request
# leaves a reader's browser for the original site). Styles inline in the page apply.
SANDBOX = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def citing_agreement(address: str) -> Agreement | None:
    """The agreement of the first record citing ``address`` (its zone names times)."""
    paths = {
        Source: ("reference", ["agreement", "commitment__agreement", "milestone__commitment"]),
        LogEntry: ("source_address", ["agreement", "commitment", "milestone__commitment"]),
        Milestone: ("evidence_url", ["commitment"]),
        StatusUpdate: ("evidence_url", ["milestone__commitment"]),
    }
    for model, (field, via) in paths.items():
        for route in via:
            agreement_path = route if route.endswith("agreement") else f"{route}__agreement"
            found = (
                Agreement.objects.filter(
                    pk__in=model._default_manager.filter(**{field: address}).values(
                        f"{agreement_path}_id"
                    )
                )
                .order_by("pk")
                .first()
            )
            if found:
                return found
    return None


@require_safe
def copy_page(request: HttpRequest, pk: int) -> HttpResponse:
    capture = get_object_or_404(Capture, pk=pk, state=Capture.State.ARCHIVED)
    agreement = citing_agreement(capture.address)
    zone = agreement.time_zone if agreement else settings.TIME_ZONE
    assert capture.fetched_at is not None
    context = {
        "capture": capture,
        "original": web_address(capture.address),
        "fetched": deadlines.zone_label(capture.fetched_at, zone),
        "fetched_utc": deadlines.zone_label(capture.fetched_at, "UTC"),
        "agreement": agreement,
        "check": LinkCheck.objects.filter(address=capture.address).first(),
        # A seed: the article's text as the record's authors read it, not fetched by us.
        "seed": cite(capture.address) if capture.outcome == SEED else None,
    }
    return render(request, "tracker/archive/copy.html", context)


@require_safe
def copy_raw(request: HttpRequest, pk: int) -> HttpResponse:
    capture = get_object_or_404(Capture, pk=pk, state=Capture.State.ARCHIVED)
    try:
        copy = warc.read(capture.warc, sha256=capture.sha256)
    except warc.Unreadable as error:
        # The file is gone or cut short (a restore without var/archive/, a full disk):
        # the reader is told so, the operator gets the file's name.
        log.error("archive: the copy of %s cannot be read: %s", capture.address, error)
        return HttpResponse(
            f"The stored copy of {capture.address} is missing or damaged.\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(copy.body, content_type=copy.content_type or "application/octet-stream")
    response["Content-Security-Policy"] = SANDBOX
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "public, max-age=86400, immutable"
    response["X-Robots-Tag"] = "noindex"
    if copy.content_type.split(";")[0].strip().lower() in DOWNLOADED:
        # A PDF viewer may refuse a sandboxed document: the reader gets the file.
        response["Content-Disposition"] = f'attachment; filename="archived-{capture.pk}.pdf"'
    return response
