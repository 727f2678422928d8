"""The endpoints. Every request takes one road (``ApiView``; its steps: docs/api.md);
the write goes serializer -> ``commitments.services.milestone_set_status`` -> serializer."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from csp.constants import NONE
from csp.decorators import csp
from django.conf import settings
from django.db.models import F, Model, Prefetch, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers as drf_serializers
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, MethodNotAllowed, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from commitments import selectors
from commitments.models import (
    Agreement,
    Commitment,
    LogEntry,
    Milestone,
    MilestonePart,
    StatusUpdate,
)
from commitments.selectors import agreements_with_progress, commitments_with_progress
from commitments.services import milestone_set_status
from tracker.archive.selectors import sources_prefetch, with_archive
from tracker.ops import csvfile
from tracker.selectors import last_sweep_at

from . import csv_export, events
from .conditional import ConditionalMixin, with_headers, write_preconditions_hold
from .exceptions import PreconditionFailed, ProblemsInJson
from .filters import MILESTONE_ORDERINGS, AgreementFilter, CommitmentFilter, MilestoneFilter
from .pagination import Pagination
from .params import allowed_params, check_filters, check_query, free_text
from .parsers import check_length
from .serializers import (
    AgreementBriefSerializer,
    AgreementSerializer,
    CommitmentSerializer,
    LogEntrySerializer,
    MilestoneBriefSerializer,
    MilestoneSerializer,
    MilestoneStatusSerializer,
    StatusSerializer,
    StatusUpdateSerializer,
    UtcDateTimeField,
)
from .throttling import RateLimitThrottle, revalidating


def base_url(request: Request) -> str:
    """Absolute address of /api/v1/ as this request reached it."""
    return request.build_absolute_uri(reverse("tracker_api:index"))


if TYPE_CHECKING:
    # What the mixin is mixed into, so that mypy checks its calls to DRF's view.
    _View = GenericAPIView[Any]
else:
    _View = object


# The API answers data (JSON, CSV), never a document: nothing in it may load, run or be
# framed (OWASP's REST cheat sheet). The site's policy (settings) is for its pages, and
# the API docs (docs.py) keep it.
API_CSP = {"default-src": [NONE], "frame-ancestors": [NONE]}


class ApiView(ConditionalMixin, ProblemsInJson, _View):
    """What every API view shares (mixed into DRF's views, never in front of them)."""

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        return csp(API_CSP)(super().as_view(*args, **kwargs))

    request: Request
    kwargs: dict[str, Any]
    filterset_class: Any = None
    paginated_actions: tuple[str, ...] = ("list",)
    extra_params: dict[str, bool] = {}
    csv_export = False  # also answer the list in CSV (csv_export.py)

    if TYPE_CHECKING:
        # Every API view has the settings' DEFAULT_PAGINATION_CLASS, this one.
        @property
        def paginator(self) -> Pagination: ...

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method this address does not have is a 405 with Allow for every caller,
        # before anyone is asked who they are.
        verb = request.method
        assert verb is not None  # None only on an HttpRequest built by hand
        if verb.lower() not in self.http_method_names or not hasattr(self, verb.lower()):
            raise MethodNotAllowed(verb)
        super().initial(request, *args, **kwargs)
        self.check_query()

    def check_query(self) -> None:
        action_name = getattr(self, "action", None)
        filterset = self.filterset_class if action_name in (None, "list") else None
        paginated = action_name in self.paginated_actions
        allowed = {**allowed_params(filterset, paginated=paginated), **self.extra_params}
        check_query(self.request, allowed, free_text(filterset))
        if filterset is not None and self.request.method in ("GET", "HEAD"):
            check_filters(filterset, self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        request = self.request
        return {
            "request": request,
            "format": self.format_kwarg,
            "view": self,
            "now": self.now,
            "base_url": base_url(request),
        }

    # --- Rate limits (throttling.py) ----------------------------------------------------

    @cached_property
    def throttles(self) -> list[BaseThrottle]:
        """This request's throttles, kept for the headers they saw."""
        return super().get_throttles()

    def get_throttles(self) -> list[BaseThrottle]:
        return self.throttles

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)
        except APIException:
            self.check_throttles(request)  # a bad token counts against its address
            raise

    def on_answered_in_full(self) -> None:
        if revalidating(self.request):  # counted as a revalidation so far
            for throttle in self.throttles:
                if isinstance(throttle, RateLimitThrottle) and not throttle.charge(self.request):
                    self.throttled(self.request, throttle.wait() or 1.0)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = next(
            (t.usage for t in self.throttles if isinstance(t, RateLimitThrottle) and t.usage), None
        )
        for name, value in usage.headers().items() if usage else ():
            response[name] = value
        return response

    # --- Existence, lists and CSV -------------------------------------------------------

    # A DRF Request where Django's View says HttpRequest, as in DRF's own stubs.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.check_exists()
        return super().options(request, *args, **kwargs)

    def check_exists(self) -> None:
        """404 for an object that does not exist (detail views override it)."""

    def get_renderers(self) -> list[Any]:
        renderers = super().get_renderers()
        if self.csv_export and getattr(self, "action", None) == "list":
            renderers.append(csv_export.CSVRenderer())
        return renderers

    def paginated(self, queryset: QuerySet[Any], serializer: type | None = None) -> HttpResponse:
        """One page, with its Link header (a page past the end is a 400, never a 304)."""
        paginator = self.paginator
        paginator.check_page(queryset, self.request)

        def body() -> Any:
            page = self.paginate_queryset(queryset)
            kind = serializer or self.get_serializer_class()
            data = kind(page, many=True, context=self.get_serializer_context()).data
            return self.get_paginated_response(data).data

        return self.respond(body, headers=lambda: {"Link": paginator.links()})

    def csv_list(self, queryset: QuerySet[Any]) -> HttpResponse | StreamingHttpResponse:
        """Every row; or one page when ``page`` or ``page_size`` is given. The ETag is
        the state's at the start; rows committed during a long download may be in it."""
        if {"page", "page_size"} & set(self.request.GET):
            paginator = self.paginator
            paginator.check_page(queryset, self.request)
            number = int(paginator.get_page_number(self.request))
            size = paginator.get_page_size(self.request)
            queryset = queryset[(number - 1) * size : number * size]
        answer = self.conditional_answer(self.validators(self.etag()))
        if answer.status_code == 304:
            return answer
        columns, rows = csv_export.EXPORTS[queryset.model]
        response = StreamingHttpResponse(
            csvfile.stream(columns, rows(queryset, self.now)),
            content_type=csvfile.CONTENT_TYPE,
        )
        with_headers(response, answer)
        name = queryset.model._meta.verbose_name_plural.replace(" ", "-")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


def read_schema(items: str, item: str, **more: Any) -> Callable[[type], type]:
    return extend_schema_view(
        list=extend_schema(summary=items),
        retrieve=extend_schema(summary=item),
        **more,
    )


class ReadViewSet(ApiView, viewsets.GenericViewSet[Any]):
    """A list (JSON, or CSV with ``csv_export``) and its items, for one model."""

    model: type[Model]

    def check_exists(self) -> None:
        if self.lookup_field in self.kwargs:
            lookup = {self.lookup_field: self.kwargs[self.lookup_field]}
            get_object_or_404(self.model._default_manager.only("pk"), **lookup)

    # The occurrences of each series among the milestones shown: one query more when
    # there is one, none otherwise (selectors.load_series).
    def milestones_shown(self, objects: Sequence[Any]) -> Sequence[Milestone]:
        return []

    def paginate_queryset(self, queryset: QuerySet[Any]) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        if page is not None and queryset.model is self.model:  # not a log or history
            selectors.load_series(self.milestones_shown(page))
        return page

    def get_object(self) -> Any:
        found = super().get_object()
        selectors.load_series(self.milestones_shown([found]))
        return found

    def list(
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse | StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        if isinstance(request.accepted_renderer, csv_export.CSVRenderer):
            return self.csv_list(queryset)
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        self.check_exists()
        return self.respond(lambda: self.get_serializer(self.get_object()).data)


if TYPE_CHECKING:
    _LogBase = ReadViewSet  # mixed in before ReadViewSet
else:
    _LogBase = object


class LogMixin(_LogBase):
    """``/{id}/log/``: an item's log, newest first, paginated (read-only)."""

    @extend_schema(
        summary="Its log: what happened since signature, with sources, newest first",
        responses=LogEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None, url_path="log")
    def log(self, request: Request, pk: str) -> HttpResponse:
        self.check_exists()
        owner = f"{self.model._meta.model_name}_id"
        entries = LogEntry.objects.filter(**{owner: pk}, archived_at__isnull=True)
        entries = with_archive(entries, "source_address")
        return self.paginated(entries.order_by("-on", "-id"), LogEntrySerializer)


@read_schema("Agreements, with their progress", "One agreement, with its progress")
class AgreementViewSet(ReadViewSet):
    """The agreements, each with the progress of its milestones."""

    model = Agreement
    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,100}"

    def get_queryset(self) -> QuerySet[Agreement]:
        return (
            agreements_with_progress(self.now)
            .prefetch_related("parties", sources_prefetch())
            .order_by("-signed_on", "slug")
        )


@read_schema("Commitments, with their milestones inline", "One commitment, with its milestones")
class CommitmentViewSet(LogMixin, ReadViewSet):
    """What each agreement promises: leads, owner, sources, a status derived from its
    milestones, and the milestones themselves."""

    model = Commitment
    serializer_class = CommitmentSerializer
    filterset_class = CommitmentFilter
    csv_export = True
    paginated_actions = ("list", "log")
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Commitment]:
        milestones = (
            Milestone.objects.select_related("rule_anchor_milestone", "series")
            .with_last_checked()
            .order_by(*MILESTONE_ORDERINGS["due_on"])
        )
        return (
            commitments_with_progress(self.now)
            .with_last_checked()
            .select_related("agreement", "owner")
            .prefetch_related(
                "parties",
                "leads__party",
                sources_prefetch(),
                Prefetch("milestones", queryset=milestones),
            )
            .order_by("agreement_id", "number", "id")
        )

    def milestones_shown(self, objects: Sequence[Commitment]) -> list[Milestone]:
        return [m for c in objects for m in c.milestones.all()]


@read_schema(
    "Milestones, filtered and paginated",
    "One milestone",
    partial_update=extend_schema(
        summary="Change a milestone's status",
        description=(
            "Through the same service as the admin, so history and alerts follow. Needs "
            "the 'set milestone status' permission (a token of the editors group). Only "
            "status, note, evidence_url and completed_on may be sent. Send the ETag of "
            "your GET in If-Match, as you got it (a tag weakened by compression, W/..., "
            "matches too): if anything has changed since, the answer is 412 and nothing "
            "changes; the 412 carries no body to retry with, GET again. If-None-Match: * "
            "is always 412 (the milestone exists)."
        ),
        request=MilestoneStatusSerializer,
        responses=MilestoneSerializer,
    ),
    history=extend_schema(
        summary="A milestone's status updates, newest first",
        responses=StatusUpdateSerializer(many=True),
    ),
)
class MilestoneViewSet(LogMixin, ReadViewSet):
    """The dated steps that show whether a commitment is kept."""

    model = Milestone
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    csv_export = True
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "head", "patch", "options"]
    paginated_actions = ("list", "history", "log")

    def get_queryset(self) -> QuerySet[Milestone]:
        parts = MilestonePart.objects.select_related("party")
        return (
            Milestone.objects.select_related(
                "commitment__agreement", "rule_anchor_milestone", "series"
            )
            .with_last_checked()
            .prefetch_related(Prefetch("parts", queryset=parts))
            .order_by(*MILESTONE_ORDERINGS["due_on"])  # ?ordering= replaces it
        )

    def milestones_shown(self, objects: Sequence[Milestone]) -> Sequence[Milestone]:
        return objects

    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request: Request, pk: str) -> HttpResponse:
        self.check_exists()
        updates = StatusUpdate.objects.filter(milestone_id=pk).select_related("party")
        return self.paginated(updates.order_by("-at", "-id"), StatusUpdateSerializer)

    def partial_update(self, request: Request, pk: str) -> Response:
        check_length(request.META)
        milestone = get_object_or_404(
            Milestone.objects.select_related("commitment__agreement"), pk=pk
        )
        incoming = MilestoneStatusSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # The preconditions, against the current state, once the request is known to
        # be valid (a bad body with a stale If-Match is a 400).
        if not write_preconditions_hold(request, self.etag("retrieve")):
            raise PreconditionFailed(
                "The milestone has changed since the ETag you sent (or If-None-Match "
                "matched): nothing was changed. GET it again."
            )
        milestone_set_status(
            milestone=milestone,
            status=data.get("status", milestone.status),
            by=request.user,
            note=data.get("note", ""),
            # Left out, the current address, as the admin's form sends it: a note on a
            # completed milestone is not a completion without evidence.
            evidence_url=data.get("evidence_url", milestone.evidence_url),
            completed_on=data.get("completed_on"),
            expected_version=milestone.version if "If-Match" in request.headers else None,
        )
        del self.state  # the change (and, on PostgreSQL, its counter) has committed
        changed = self.get_queryset().get(pk=pk)
        selectors.load_series([changed])
        response = Response(self.get_serializer(changed).data)
        response["ETag"] = self.etag("retrieve")
        response["Cache-Control"] = "no-store"
        return response


# --- The status document ----------------------------------------------------------------


def as_it_stood(m: Milestone, s: selectors.MilestoneState) -> Milestone:
    """A copy of ``m`` holding its state on a past day (for the same serializers). The
    sweep's flag is not rebuilt for a past day: ``flagged_overdue_at`` is null."""
    past = copy.copy(m)
    past.status, past.due_on, past.completed_on = s.status, s.due_on, s.completed_on
    past.overdue_from, past.overdue_since = s.overdue_from, None
    return past


def _due(pair: tuple[Milestone, selectors.MilestoneState]) -> dt.date:
    return pair[1].due_on or dt.date.max


def status_document(context: dict[str, Any], day: dt.date | None) -> dict[str, Any]:
    """Now (``context["now"]``), or as the record stood at the end of ``day`` in each
    agreement's zone (``commitments.selectors.record_as_of``, the public pages'
    selector). The same shape either way."""
    limit = settings.API_STATUS_OVERDUE_LIMIT
    if day is None:
        now = context["now"]
        ms = Milestone.objects.select_related("commitment__agreement")
        overdue = ms.overdue_at(now).order_by("overdue_from", "id")
        listed = list(overdue[:limit])
        count = len(listed) if len(listed) < limit else overdue.count()
        upcoming = list(ms.open().filter(overdue_from__gt=now).order_by(F("due_on"), "id")[:10])
        agreements = list(agreements_with_progress(now).order_by("-signed_on", "slug"))
        as_of = context["swept"]
    else:
        record = selectors.record_as_of(day)
        late = sorted((p for p in record.milestones if p[1].overdue), key=_due)
        ahead = (p for p in record.milestones if p[1].due_on and not p[1].is_closed)
        soon = sorted((p for p in ahead if not p[1].overdue), key=_due)
        listed, count = [as_it_stood(*p) for p in late[:limit]], len(late)
        upcoming = [as_it_stood(*p) for p in soon[:10]]
        agreements = [a for a, _ in record.agreements]
        progress = {a.pk: p for a, p in record.agreements}
        context = {**context, "as_of_day": day, "progress": progress}
        ends = [selectors.end_of_day(day, tz) for tz in {a.time_zone for a in agreements}]
        as_of = max(ends, default=selectors.end_of_day(day, "UTC"))
    milestones = MilestoneBriefSerializer(listed, many=True, context=context).data
    return {
        "as_of": UtcDateTimeField().to_representation(as_of) if as_of else None,
        "agreements": AgreementBriefSerializer(agreements, many=True, context=context).data,
        "overdue": {"count": count, "truncated": count > len(listed), "milestones": milestones},
        "next_deadlines": MilestoneBriefSerializer(upcoming, many=True, context=context).data,
    }


class StatusView(ApiView, APIView):
    """One compact document for pollers; ``?as_of=YYYY-MM-DD`` for a past day."""

    extra_params = {"as_of": False}

    @extend_schema(
        summary="Everything a poller needs, in one document",
        description=(
            "Every agreement's progress, the overdue milestones (the first "
            f"{settings.API_STATUS_OVERDUE_LIMIT}, oldest deadline first, with the total), "
            "the next 10 deadlines, and as_of. Poll it with If-None-Match: the ETag "
            "changes when anything in it changes (as_of excepted: it is in the "
            "X-Tracker-As-Of header of every answer, 304s included; hence a weak ETag). "
            "With ?as_of=YYYY-MM-DD: the same document as the record stood at the end of "
            "that day in each agreement's time zone (a strong ETag)."
        ),
        parameters=[
            OpenApiParameter(
                "as_of",
                OpenApiTypes.DATE,
                description="A past day (YYYY-MM-DD): the record as it stood at its end, "
                "in each agreement's time zone. Not after today; never empty.",
            ),
        ],
        responses=StatusSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        context = self.get_serializer_context()
        if "as_of" in request.query_params:
            day = self.as_of_day(request.query_params["as_of"])
            return self.respond(lambda: status_document(context, day))
        context["swept"] = swept = last_sweep_at()
        response = self.respond(
            lambda: status_document(context, None), etag=lambda: self.etag(weak=True)
        )
        if swept:
            response["X-Tracker-As-Of"] = UtcDateTimeField().to_representation(swept)
        return response

    def as_of_day(self, value: str) -> dt.date:
        try:
            day = selectors.parse_as_of(value, self.now)
        except selectors.AsOfError as exc:
            raise ValidationError({"as_of": [exc.reason]}) from None
        if day is None:  # as every parameter here: empty is an error, not "absent"
            raise ValidationError({"as_of": ["is empty; give a day as YYYY-MM-DD"]})
        return day


# --- The index and the event feed: validators from their content --------------------------


class IndexView(ApiView, APIView):
    """/api/v1/: where everything is."""

    ENDPOINTS = ("status", "agreements", "commitments", "milestones", "events")

    @extend_schema(
        summary="The API's index: its endpoints, the schema and the docs",
        responses=inline_serializer(
            "Index",
            {name: drf_serializers.URLField() for name in (*ENDPOINTS, "schema", "docs", "redoc")},
        ),
    )
    def get(self, request: Request) -> HttpResponse:
        base = base_url(request)
        body = {name: f"{base}{name}/" for name in self.ENDPOINTS}
        for name in ("schema", "docs", "redoc"):
            body[name] = request.build_absolute_uri(reverse(f"tracker_api:{name}"))
        return self.respond_by_content(body)


class EventFeedView(ApiView, APIView):
    """Every change, oldest first, after an opaque cursor (see events.py)."""

    extra_params = {"after": False, "limit": False}

    @events.FEED_SCHEMA
    def get(self, request: Request) -> HttpResponse:
        body = events.feed(request, base_url(request))
        headers = {"Link": f'<{body["next"]}>; rel="next"'}
        return self.respond_by_content(body, headers=headers, cache_control="no-cache")
