"""The endpoints. Reads: filters validated, then the validator (one query), then a 304,
a cached body or a rendered one (see ``conditional``). The write: serializer ->
``commitments.services.milestone_set_status`` -> serializer."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpResponse, HttpResponseNotModified, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commitments.models import Agreement, Commitment, Milestone, MilestonePart, StatusUpdate
from commitments.selectors import agreements_with_progress, commitments_with_progress
from commitments.services import milestone_set_status

from . import conditional
from .conditional import make_etag, query_key, request_state
from .exceptions import PreconditionFailed
from .filters import MILESTONE_ORDERINGS, CommitmentFilter, MilestoneFilter
from .parsers import check_length
from .renderers import JSONRenderer
from .serializers import (
    AgreementBriefSerializer,
    AgreementSerializer,
    CommitmentSerializer,
    MilestoneBriefSerializer,
    MilestoneSerializer,
    MilestoneStatusSerializer,
    StatusSerializer,
    StatusUpdateSerializer,
)
from .throttling import AnonReadThrottle

PAGE_PARAMS = ("page", "page_size")


def render(data: Any) -> bytes:
    return JSONRenderer().render(data)


def base_url(request: Request) -> str:
    """Absolute address of /api/v1/ as this request reached it."""
    return request.build_absolute_uri(reverse("tracker_api:status")).removesuffix("status/")


def read_etag(kind: str, request: Any, known: Iterable[str], *parts: object) -> str:
    """The ETag of a read: what it is, where, the query as it matters, and the state.
    Used by the views and by ``answer_304_early`` alike."""
    return make_etag(
        kind,
        request.build_absolute_uri(request.path),
        query_key(request, known),
        request_state(request).key(),
        *parts,
    )


class ReadMixin:
    """Conditional GETs for a viewset: ``conditional_list`` and ``conditional_detail``."""

    request: Request
    kwargs: dict[str, Any]
    filterset_class: Any = None

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        context.update(now=request_state(self.request).now, base_url=base_url(self.request))
        return context

    def known_params(self) -> list[str]:
        names = list(self.filterset_class.base_filters) if self.filterset_class else []
        return [*names, *PAGE_PARAMS]

    def etag(self, *parts: object) -> str:
        return read_etag(
            f"{type(self).__name__}.{self.action}", self.request, self.known_params(), *parts
        )

    def respond(self, etag: Callable[[], str], body: Callable[[], Any]) -> HttpResponse:
        return conditional.conditional_body(self.request, etag=etag, render=lambda: render(body()))

    def conditional_list(self) -> HttpResponse:
        if self.filterset_class is not None:
            check_filters(self.filterset_class, self.request)

        def body() -> Any:
            queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
            page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
            data = self.get_serializer(page, many=True).data  # type: ignore[attr-defined]
            return self.get_paginated_response(data).data  # type: ignore[attr-defined]

        return self.respond(self.etag, body)


@functools.lru_cache(maxsize=1024)
def _filter_errors(
    filterset_class: type, query: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any] | None:
    """Whether filter values are valid depends on the values alone (no filter looks
    anything up), so the answer is remembered: building a FilterSet's form costs more
    than the rest of a 304."""
    params = QueryDict(mutable=True)
    for name, values in query:
        params.setlist(name, list(values))
    filterset = filterset_class(data=params, queryset=filterset_class._meta.model.objects.none())
    return None if filterset.is_valid() else dict(filterset.errors)


def check_filters(filterset_class: type, request: Any) -> None:
    names = set(filterset_class.base_filters) & set(request.GET)
    if not names:
        return
    query = tuple((name, tuple(request.GET.getlist(name))) for name in sorted(names))
    errors = _filter_errors(filterset_class, query)
    if errors:
        raise ValidationError(errors)


LIST_HEADERS = [
    OpenApiParameter(
        "If-None-Match",
        str,
        OpenApiParameter.HEADER,
        description="The ETag of your copy: 304 if it still holds.",
    ),
    OpenApiParameter(
        "If-Modified-Since",
        str,
        OpenApiParameter.HEADER,
        description="An HTTP date; ignored when If-None-Match is sent.",
    ),
]


# --- Agreements -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Agreements, with their progress", parameters=LIST_HEADERS),
    retrieve=extend_schema(summary="One agreement, with its progress", parameters=LIST_HEADERS),
)
class AgreementViewSet(ReadMixin, viewsets.ReadOnlyModelViewSet):
    """The agreements, each with the progress of its milestones."""

    serializer_class = AgreementSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,100}"

    def get_queryset(self) -> QuerySet[Agreement]:
        if getattr(self, "swagger_fake_view", False):
            return Agreement.objects.none()
        now = request_state(self.request).now
        return (
            agreements_with_progress(now)
            .prefetch_related("parties", "sources")
            .order_by("-signed_on", "slug")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.conditional_list()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        get_object_or_404(Agreement.objects.only("pk"), slug=kwargs["slug"])
        return self.respond(self.etag, lambda: self.get_serializer(self.get_object()).data)


# --- Commitments ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Commitments, with their milestones inline", parameters=LIST_HEADERS
    ),
    retrieve=extend_schema(summary="One commitment, with its milestones", parameters=LIST_HEADERS),
)
class CommitmentViewSet(ReadMixin, viewsets.ReadOnlyModelViewSet):
    """What each agreement promises: leads, owner, sources, a status derived from its
    milestones, and the milestones themselves."""

    serializer_class = CommitmentSerializer
    filterset_class = CommitmentFilter
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Commitment.objects.none()
        now = request_state(self.request).now
        milestones = Milestone.objects.select_related("rule_anchor_milestone").order_by(
            *MILESTONE_ORDERINGS["due_on"]
        )
        return (
            commitments_with_progress(now)
            .select_related("agreement", "owner")
            .prefetch_related(
                "parties", "leads__party", "sources", Prefetch("milestones", queryset=milestones)
            )
            .order_by("agreement_id", "number", "id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.conditional_list()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        get_object_or_404(Commitment.objects.only("pk"), pk=kwargs["pk"])
        return self.respond(self.etag, lambda: self.get_serializer(self.get_object()).data)


# --- Milestones ---------------------------------------------------------------------------


def milestone_etag(pk: int, version: int, rest: str) -> str:
    """``W/"m<id>.v<version>.<hash>"``: If-Match compares the version in it."""
    return f'W/"m{pk}.v{version}.{rest.removeprefix("W/").strip(chr(34))}"'


def if_match_version(header: str, pk: int) -> int | None:
    """The version an If-Match header vouches for: None for "*", else the version
    carried by a tag of this milestone. Raises 412 when no tag is one of ours."""
    tags = conditional.parse_etags(header)
    if "*" in tags:
        return None
    prefix = f"m{pk}.v"
    for tag in tags:
        opaque = tag.removeprefix("W/").strip('"')
        if opaque.startswith(prefix):
            version = opaque[len(prefix) :].split(".", 1)[0]
            if version.isdigit():
                return int(version)
    raise PreconditionFailed("If-Match names no version of this milestone; GET it again.")


@extend_schema_view(
    list=extend_schema(summary="Milestones, filtered and paginated", parameters=LIST_HEADERS),
    retrieve=extend_schema(summary="One milestone", parameters=LIST_HEADERS),
    partial_update=extend_schema(
        summary="Change a milestone's status",
        description=(
            "Through the same service as the admin, so history and alerts follow. Needs "
            "the 'set milestone status' permission (a token of the editors group). Only "
            "status, note, evidence_url and completed_on may be sent. Send the ETag of "
            "your GET in If-Match: if the milestone has changed since, the answer is 412 "
            "and nothing changes."
        ),
        request=MilestoneStatusSerializer,
        responses=MilestoneSerializer,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag from your GET of this milestone.",
            )
        ],
    ),
    history=extend_schema(
        summary="A milestone's status updates, newest first",
        parameters=LIST_HEADERS,
        responses=StatusUpdateSerializer(many=True),
    ),
)
class MilestoneViewSet(
    ReadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The dated steps that show whether a commitment is kept."""

    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "head", "patch", "options"]

    def get_queryset(self) -> QuerySet[Milestone]:
        if self.action == "history":
            return StatusUpdate.objects.all()
        parts = MilestonePart.objects.select_related("party")
        return Milestone.objects.select_related(
            "commitment__agreement", "rule_anchor_milestone"
        ).prefetch_related(Prefetch("parts", queryset=parts))

    def get_serializer_class(self) -> type:
        if self.action == "history":
            return StatusUpdateSerializer
        if self.action == "partial_update" and getattr(self, "swagger_fake_view", False):
            return MilestoneStatusSerializer
        return MilestoneSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.conditional_list()

    def _version(self) -> int:
        versions = Milestone.objects.filter(pk=self.kwargs["pk"]).values_list("version", flat=True)
        version = next(iter(versions), None)
        if version is None:
            get_object_or_404(Milestone.objects.none())
        return version  # type: ignore[return-value]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        version = self._version()
        return self.respond(
            lambda: milestone_etag(int(kwargs["pk"]), version, self.etag(version)),
            lambda: self.get_serializer(self.get_object()).data,
        )

    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request: Request, pk: str) -> HttpResponse:
        self._version()  # 404 for an unknown milestone

        def body() -> Any:
            updates = (
                StatusUpdate.objects.filter(milestone_id=pk)
                .select_related("by", "party")
                .order_by("-at", "-id")
            )
            page = self.paginate_queryset(updates)
            return self.get_paginated_response(self.get_serializer(page, many=True).data).data

        return self.respond(self.etag, body)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        check_length(request.META)
        milestone = get_object_or_404(
            Milestone.objects.select_related("commitment__agreement"), pk=kwargs["pk"]
        )
        expected = None
        if "If-Match" in request.headers:
            expected = if_match_version(request.headers["If-Match"], milestone.pk)
            if expected is not None and expected != milestone.version:
                raise PreconditionFailed(
                    f"The milestone is at version {milestone.version}, not {expected}: "
                    "someone changed it since your GET. Nothing was changed."
                )
        incoming = MilestoneStatusSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        milestone_set_status(
            milestone=milestone,
            status=data.get("status", milestone.status),
            by=request.user,
            note=data.get("note", ""),
            evidence_url=data.get("evidence_url", ""),
            completed_on=data.get("completed_on"),
            expected_version=expected,
        )
        # A fresh state: the change (and, on PostgreSQL, its counter) has committed.
        request._tracker_state = conditional.current_state(fresh=True)  # type: ignore[attr-defined]
        fresh = self.get_queryset().get(pk=milestone.pk)
        etag = milestone_etag(fresh.pk, fresh.version, self.etag(fresh.version))
        response = Response(self.get_serializer(fresh).data)
        response["ETag"] = etag
        response["Cache-Control"] = "no-store"
        return response


# --- The status document ------------------------------------------------------------------


def as_of_header(request: Any) -> str | None:
    as_of = request_state(request, with_as_of=True).as_of
    return as_of.isoformat().replace("+00:00", "Z") if as_of else None


class StatusView(APIView):
    """One compact document for pollers."""

    @extend_schema(
        summary="Everything a poller needs, in one document",
        description=(
            "Every agreement's progress, the overdue milestones (the first "
            f"{settings.API_STATUS_OVERDUE_LIMIT}, oldest deadline first, with the total), "
            "the next 10 deadlines, and as_of (the last sweep). Poll it with If-None-Match: "
            "the ETag changes when anything in it changes (as_of excepted: it is in the "
            "X-Tracker-As-Of header of every answer, 304s included)."
        ),
        parameters=LIST_HEADERS,
        responses=StatusSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        request_state(request, with_as_of=True)
        response = conditional.conditional_body(
            request,
            etag=lambda: read_etag("status", request, ()),
            render=lambda: render(self.document(request)),
            prefix=lambda: b'"as_of":' + json.dumps(as_of_header(request)).encode(),
        )
        if as_of_text := as_of_header(request):
            response["X-Tracker-As-Of"] = as_of_text
        return response

    def document(self, request: Request) -> dict[str, Any]:
        now = request_state(request).now
        context = {"now": now, "base_url": base_url(request), "request": request}
        overdue = (
            Milestone.objects.overdue_at(now)
            .select_related("commitment__agreement")
            .order_by("overdue_from", "id")
        )
        limit = settings.API_STATUS_OVERDUE_LIMIT
        listed = list(overdue[:limit])
        count = len(listed) if len(listed) < limit else overdue.count()
        upcoming = (
            Milestone.objects.open()
            .filter(overdue_from__gt=now)
            .select_related("commitment__agreement")
            .order_by(F("due_on"), "id")[:10]
        )
        agreements = agreements_with_progress(now).order_by("-signed_on", "slug")
        return {
            "agreements": AgreementBriefSerializer(agreements, many=True, context=context).data,
            "overdue": {
                "count": count,
                "truncated": count > len(listed),
                "milestones": MilestoneBriefSerializer(listed, many=True, context=context).data,
            },
            "next_deadlines": MilestoneBriefSerializer(upcoming, many=True, context=context).data,
        }


# --- The pollers' fast lane ----------------------------------------------------------------


_JSON_RANGES = {"*/*", "application/*", "application/json"}
_REFUSED = re.compile(r"(?:^|;)\s*q=0(?:\.0*)?\s*(?:;|$)")


def accepts_json(request: Any) -> bool:
    """What DRF's content negotiation would grant us (JSON is our only renderer)."""
    header = request.META.get("HTTP_ACCEPT", "").strip()
    if not header:
        return True
    for item in header.split(","):
        media, _, params = item.partition(";")
        if media.strip().lower() in _JSON_RANGES and not _REFUSED.search(params):
            return True
    return False


def answer_304_early(
    view: Callable[..., HttpResponse],
    *,
    kind: str,
    filterset_class: type | None = None,
    as_of: bool = False,
) -> Callable[..., HttpResponse]:
    """Wrap a list view (or the status view) so that an anonymous poller is answered
    before DRF is entered when that is cheap: a 304 when its copy still holds, or the
    body already rendered for the current ETag in this process's memory. The same
    filter check, ETag, rate limit, headers and body as the view's own, at a fraction
    of the cost. Anything else (a token or a session, If-Modified-Since alone, an Accept
    or ?format= the view would refuse, a bad filter, a body not in memory, a refused
    rate) goes to the view as usual."""
    known = [*filterset_class.base_filters, *PAGE_PARAMS] if filterset_class else []

    @functools.wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        meta = request.META
        conditional_request = "HTTP_IF_NONE_MATCH" in meta
        if (
            request.method in ("GET", "HEAD")
            and (conditional_request or "HTTP_IF_MODIFIED_SINCE" not in meta)
            and "HTTP_AUTHORIZATION" not in meta
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and "format" not in request.GET
            and accepts_json(request)
        ):
            try:
                if filterset_class is not None:
                    check_filters(filterset_class, request)
            except ValidationError:
                return view(request, *args, **kwargs)
            request_state(request, with_as_of=as_of)  # at most one round trip for both
            etag = read_etag(kind, request, known)
            matched = conditional_request and conditional.none_match(request, etag)
            if conditional_request and not matched and conditional.refresh_state(request):
                etag = read_etag(kind, request, known)  # a newer copy than remembered?
                matched = conditional.none_match(request, etag)
            if matched:
                if not AnonReadThrottle().allow_anonymous(request):
                    return view(request, *args, **kwargs)  # the view's own 429
                response = conditional.cache_headers(
                    HttpResponseNotModified(),
                    etag,
                    request_state(request).last_modified,
                    conditional.default_cache_control(),
                )
            else:
                body = conditional.remembered_body(etag)
                if body is None or not AnonReadThrottle().allow_anonymous(request):
                    return view(request, *args, **kwargs)
                response = conditional.body_response(
                    body,
                    etag,
                    request_state(request).last_modified,
                    conditional.default_cache_control(),
                    prefix=(
                        (lambda: b'"as_of":' + json.dumps(as_of_header(request)).encode())
                        if as_of
                        else None
                    ),
                )
                # As DRF's view answers (it reads the session to find the caller).
                response["Allow"] = _ALLOW
                patch_vary_headers(response, ("Cookie",))
            if as_of and (text := as_of_header(request)):
                response["X-Tracker-As-Of"] = text
            return response
        return view(request, *args, **kwargs)

    return wrapped


_ALLOW = "GET, HEAD, OPTIONS"


# --- The status document as of a past day (the public site's "as of", issue 10) ----------


def with_as_of(live: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``/status/?as_of=YYYY-MM-DD``: the status document as the record stood at the end
    of that day in each agreement's zone, from ``commitments.selectors.record_as_of``,
    the selector of the public pages' "as of". A past day does not change, so it skips
    the pollers' ETag machinery. Without ``as_of``: the ``live`` view, untouched."""
    from django.http import JsonResponse
    from django.utils import timezone

    from commitments import deadlines, selectors

    @functools.wraps(live)
    def view(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.GET.get("as_of"):
            return live(request, *args, **kwargs)
        try:
            day = selectors.parse_as_of(request.GET["as_of"], timezone.now())
        except selectors.AsOfError as exc:
            problem = {"type": "about:blank", "title": "Bad Request", "status": 400}
            problem |= {"detail": str(exc), "errors": [{"field": "as_of", "reason": exc.reason}]}
            return JsonResponse(problem, status=400, content_type="application/problem+json")
        assert day is not None
        record, base = selectors.record_as_of(day), base_url(request)

        def brief(m: Milestone, s: selectors.MilestoneState) -> dict[str, Any]:
            tz = m.commitment.agreement.time_zone
            left = deadlines.days_remaining(s.due_on, now=s.at, time_zone=tz)
            return {
                "id": m.pk,
                "url": f"{base}milestones/{m.pk}/",
                "agreement": m.commitment.agreement.slug,
                "commitment": m.commitment_id,
                "title": m.title,
                "due_on": s.due_on,
                "status": s.status,
                "is_overdue": s.overdue,
                "days_remaining": None if s.is_closed else left,
            }

        late = sorted((r for r in record.milestones if r[1].overdue), key=lambda r: r[1].due_on)
        soon = sorted(
            (r for r in record.milestones if r[1].due_on and not (r[1].overdue or r[1].is_closed)),
            key=lambda r: r[1].due_on,
        )
        agreements = [
            {"slug": a.slug, "url": f"{base}agreements/{a.slug}/", "short_name": a.short_name}
            | {"time_zone": a.time_zone, "progress": progress}
            for a, progress in record.agreements
        ]
        document = {
            "as_of_day": day,
            "agreements": agreements,
            "overdue": {"count": len(late), "milestones": [brief(*r) for r in late]},
            "next_deadlines": [brief(*r) for r in soon[:10]],
        }
        return JsonResponse(document, json_dumps_params={"ensure_ascii": False})

    return view
