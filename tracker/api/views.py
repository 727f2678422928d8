"""The endpoints. Every read takes one road (``ApiView``): the method is checked, then
content negotiation (406), authentication (401, and a bad token counts against the
address), the query (400 naming the parameter), the object or page exists (404 / 400);
only then the preconditions (``conditional.ConditionalMixin``: 304 or 412), and last
the body, from the shared cache under its ETag or rendered. The write: serializer ->
``commitments.services.milestone_set_status`` -> serializer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from csp.constants import NONE
from csp.decorators import csp
from django.conf import settings
from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import get_conditional_response
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commitments import deadlines, selectors
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

from . import conditional, csv_export, events
from .conditional import ConditionalMixin, cached_body, make_etag, query_key, request_state
from .exceptions import PROBLEM, PreconditionFailed
from .filters import MILESTONE_ORDERINGS, AgreementFilter, CommitmentFilter, MilestoneFilter
from .pagination import Pagination
from .params import allowed_params, check_filters, check_query, free_text
from .parsers import check_length
from .renderers import JSONRenderer
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
)
from .throttling import RateLimitMixin


def base_url(request: Request) -> str:
    """Absolute address of /api/v1/ as this request reached it."""
    return request.build_absolute_uri(reverse("tracker_api:index"))


if TYPE_CHECKING:
    # What the mixin is mixed into, so that mypy checks its calls to DRF's view.
    _View = GenericAPIView
else:
    _View = object


# The API answers data (JSON, CSV), never a document: nothing in it may load, run or be
# framed (OWASP's REST cheat sheet). The site's policy (settings) is for its pages, and
# the API docs (docs.py) keep it. Shorter too: it is on every poll, and nginx parses the
# headers stored with a cached answer on every hit (bench/README.md).
API_CSP = {"default-src": [NONE], "frame-ancestors": [NONE]}


class ApiView(RateLimitMixin, ConditionalMixin, _View):
    """What every API view shares (mixed into DRF's views, never in front of them)."""

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        return csp(API_CSP)(super().as_view(*args, **kwargs))

    request: Request
    kwargs: dict[str, Any]
    filterset_class: Any = None
    paginated_actions: tuple[str, ...] = ("list",)
    extra_params: dict[str, bool] = {}

    if TYPE_CHECKING:
        # Every API view has the settings' DEFAULT_PAGINATION_CLASS, this one.
        @property
        def paginator(self) -> Pagination: ...

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method this address does not have is a 405 with Allow for every caller,
        # before anyone is asked who they are.
        verb = request.method
        assert verb is not None  # None only on an HttpRequest built by hand
        method = verb.lower()
        if method not in self.http_method_names or not hasattr(self, method):
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
        context = super().get_serializer_context()
        context.update(now=request_state(self.request).now, base_url=base_url(self.request))
        return context

    def etag(self, kind: str | None = None, *, weak: bool = False) -> str:
        """What it is, where, the query, the state, and the media type."""
        request = self.request
        return make_etag(
            f"{type(self).__name__}.{kind or getattr(self, 'action', 'get')}",
            request.build_absolute_uri(request.path),
            query_key(request),
            request_state(request).key(),
            getattr(request, "accepted_media_type", ""),
            weak=weak,
        )

    def respond(
        self,
        body: Callable[[], Any],
        *,
        etag: Callable[[], str] | None = None,
        headers: Callable[[], dict[str, str]] | None = None,
    ) -> HttpResponse:
        """The conditional answer, else ``body()`` rendered (or its rendering from the
        shared cache: the key is the ETag, which names one state of the data). A 200's
        rate-limit charge rides on the round trip that reads its body (throttling.py)."""
        self.charge_with_body = True
        answer = self.conditional_answer(etag or self.etag)
        if answer.response is not None:
            return self._precondition(answer.response)
        tag = answer.headers["ETag"]

        def render() -> dict[str, Any]:
            data = body()
            return {"body": self._render(data), "headers": headers() if headers else {}}

        rendered = cached_body(tag, render, self.read_charged)
        response = HttpResponse(rendered["body"], content_type=self._content_type())
        for name, value in [*answer.headers.items(), *rendered["headers"].items()]:
            if name != "Content-Type":
                response[name] = value
        return response

    def _precondition(self, response: HttpResponse) -> HttpResponse:
        if response.status_code == 412:
            raise PreconditionFailed("If-Match or If-Unmodified-Since does not hold.")
        return response

    def _render(self, data: Any) -> bytes:
        renderer = self.request.accepted_renderer
        return renderer.render(
            data,
            self.request.accepted_media_type,
            self.get_renderer_context(),
        )

    def _content_type(self) -> str:
        renderer = self.request.accepted_renderer
        return renderer.media_type + (f"; charset={renderer.charset}" if renderer.charset else "")

    # A DRF Request where Django's View says HttpRequest, as in DRF's own stubs.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.check_exists()
        return super().options(request, *args, **kwargs)

    def check_exists(self) -> None:
        """404 for an object that does not exist (detail views override it)."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.content_type == PROBLEM:
            # Problems are JSON whatever was negotiated (a CSV request's 400 too).
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = PROBLEM
        return response

    # --- lists ---------------------------------------------------------------------

    csv_export = False  # also answer the list in CSV (csv_export.py)

    def get_renderers(self) -> list[Any]:
        renderers = super().get_renderers()
        if self.csv_export and getattr(self, "action", None) == "list":
            renderers.append(csv_export.CSVRenderer())
        return renderers

    def is_csv(self) -> bool:
        return getattr(self.request, "accepted_media_type", "").startswith(csv_export.CSV)

    def csv_list(self, queryset: QuerySet) -> StreamingHttpResponse | HttpResponse:
        """Every row; or one page when ``page`` or ``page_size`` is given."""
        window = None
        if {"page", "page_size"} & set(self.request.GET):
            paginator = self.paginator
            paginator.check_page(queryset, self.request)
            number = int(paginator.get_page_number(self.request))
            size = paginator.get_page_size(self.request)
            window = ((number - 1) * size, number * size)
        answer = self.conditional_answer(self.etag)
        if answer.response is not None:
            return self._precondition(answer.response)
        columns, rows = csv_export.EXPORTS[queryset.model]
        now = request_state(self.request).now
        response = StreamingHttpResponse(
            csv_export.stream(columns, rows(queryset, now, window)),
            content_type="text/csv; charset=utf-8; header=present",
        )
        for name, value in answer.headers.items():
            if name != "Content-Type":
                response[name] = value
        name = queryset.model._meta.verbose_name_plural.replace(" ", "-")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    def conditional_list(self) -> StreamingHttpResponse | HttpResponse:
        # Built only when needed: a FilterSet and an annotated queryset cost more than
        # the rest of a 304 (the filter values were checked in check_query).
        def queryset() -> QuerySet:
            return self.filter_queryset(self.get_queryset())

        if self.is_csv():
            return self.csv_list(queryset())
        paginator = self.paginator
        paginator.check_page(queryset, self.request)

        def body() -> Any:
            page = self.paginate_queryset(queryset())
            data = self.get_serializer(page, many=True).data
            return self.get_paginated_response(data).data

        return self.respond(body, headers=lambda: {"Link": paginator.links()})


def last_checked_on(owner: str) -> Subquery:
    """The date of the newest log entry of each row (commitment or milestone)."""
    entries = LogEntry.objects.filter(**{owner: OuterRef("pk")}, archived_at__isnull=True)
    return Subquery(entries.order_by("-on").values("on")[:1])


if TYPE_CHECKING:
    _LogBase = ApiView  # mixed in before ApiView
else:
    _LogBase = object


class LogMixin(_LogBase):
    """``/{id}/log/``: an item's log, newest first, paginated (read-only)."""

    log_owner = ""

    @extend_schema(
        summary="Its log: what happened since signature, with sources, newest first",
        responses=LogEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None, url_path="log")
    def log(self, request: Request, pk: str) -> HttpResponse:
        self.check_exists()
        entries = LogEntry.objects.filter(
            **{f"{self.log_owner}_id": pk}, archived_at__isnull=True
        ).order_by("-on", "-id")
        paginator = self.paginator
        paginator.check_page(entries, request)

        def body() -> Any:
            page = self.paginate_queryset(entries)
            data = LogEntrySerializer(page, many=True).data
            return self.get_paginated_response(data).data

        return self.respond(body, headers=lambda: {"Link": paginator.links()})


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
class AgreementViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """The agreements, each with the progress of its milestones."""

    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
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

    def check_exists(self) -> None:
        if "slug" in self.kwargs:
            get_object_or_404(Agreement.objects.only("pk"), slug=self.kwargs["slug"])

    def list(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> StreamingHttpResponse | HttpResponse:
        return self.conditional_list()

    def retrieve(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        self.check_exists()
        return self.respond(lambda: self.get_serializer(self.get_object()).data)


# --- Commitments ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Commitments, with their milestones inline", parameters=LIST_HEADERS
    ),
    retrieve=extend_schema(summary="One commitment, with its milestones", parameters=LIST_HEADERS),
)
class CommitmentViewSet(LogMixin, ApiView, viewsets.ReadOnlyModelViewSet):
    """What each agreement promises: leads, owner, sources, a status derived from its
    milestones, and the milestones themselves."""

    serializer_class = CommitmentSerializer
    filterset_class = CommitmentFilter
    csv_export = True
    log_owner = "commitment"
    paginated_actions = ("list", "log")
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Commitment.objects.none()
        now = request_state(self.request).now
        milestones = (
            Milestone.objects.select_related("rule_anchor_milestone")
            .annotate(last_checked_on=last_checked_on("milestone"))
            .order_by(*MILESTONE_ORDERINGS["due_on"])
        )
        return (
            commitments_with_progress(now)
            .annotate(last_checked_on=last_checked_on("commitment"))
            .select_related("agreement", "owner")
            .prefetch_related(
                "parties", "leads__party", "sources", Prefetch("milestones", queryset=milestones)
            )
            .order_by("agreement_id", "number", "id")
        )

    def check_exists(self) -> None:
        if "pk" in self.kwargs:
            get_object_or_404(Commitment.objects.only("pk"), pk=self.kwargs["pk"])

    def list(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> StreamingHttpResponse | HttpResponse:
        return self.conditional_list()

    def retrieve(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        self.check_exists()
        return self.respond(lambda: self.get_serializer(self.get_object()).data)


# --- Milestones ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Milestones, filtered and paginated", parameters=LIST_HEADERS),
    retrieve=extend_schema(summary="One milestone", parameters=LIST_HEADERS),
    partial_update=extend_schema(
        summary="Change a milestone's status",
        description=(
            "Through the same service as the admin, so history and alerts follow. Needs "
            "the 'set milestone status' permission (a token of the editors group). Only "
            "status, note, evidence_url and completed_on may be sent. Send the ETag of "
            "your GET in If-Match (strong comparison: send it as you got it): if "
            "anything has changed since, the answer is 412 and nothing changes; the 412 "
            "carries no body to retry with, GET again. If-None-Match: * is always 412 "
            "(the milestone exists)."
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
    LogMixin,
    ApiView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The dated steps that show whether a commitment is kept."""

    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    csv_export = True
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "head", "patch", "options"]
    paginated_actions = ("list", "history", "log")
    log_owner = "milestone"

    def get_queryset(self) -> QuerySet[Milestone] | QuerySet[StatusUpdate]:
        if self.action == "history":
            return StatusUpdate.objects.all()
        parts = MilestonePart.objects.select_related("party")
        return (
            Milestone.objects.select_related("commitment__agreement", "rule_anchor_milestone")
            .annotate(last_checked_on=last_checked_on("milestone"))
            .prefetch_related(Prefetch("parts", queryset=parts))
        )

    def get_serializer_class(self) -> type:
        if self.action == "history":
            return StatusUpdateSerializer
        if self.action == "partial_update" and getattr(self, "swagger_fake_view", False):
            return MilestoneStatusSerializer
        return MilestoneSerializer

    def check_exists(self) -> None:
        if "pk" in self.kwargs:
            get_object_or_404(Milestone.objects.only("pk"), pk=self.kwargs["pk"])

    def list(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> StreamingHttpResponse | HttpResponse:
        return self.conditional_list()

    def retrieve(  # type: ignore[override]  # DRF takes any HttpResponse from a handler
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        self.check_exists()
        return self.respond(lambda: self.get_serializer(self.get_object()).data)

    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request: Request, pk: str) -> HttpResponse:
        self.check_exists()
        updates = (
            StatusUpdate.objects.filter(milestone_id=pk)
            .select_related("party")
            .order_by("-at", "-id")
        )
        self.paginator.check_page(updates, request)

        def body() -> Any:
            page = self.paginate_queryset(updates)
            return self.get_paginated_response(self.get_serializer(page, many=True).data).data

        return self.respond(body, headers=lambda: {"Link": self.paginator.links()})

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        check_length(request.META)
        milestone = get_object_or_404(
            Milestone.objects.select_related("commitment__agreement"), pk=kwargs["pk"]
        )
        incoming = MilestoneStatusSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # The preconditions, against the current state (never a remembered one), once
        # the request is known to be valid: If-Match (strong comparison) and
        # If-None-Match (``*``: the milestone exists, so 412), by Django's rules.
        request._tracker_state = conditional.current_state(fresh=True)  # type: ignore[attr-defined]
        current = self.etag("retrieve")
        if conditional.is_conditional(request):
            answer = get_conditional_response(request._request, etag=current)
            if answer is not None:
                raise PreconditionFailed(
                    "The milestone has changed since the ETag you sent (or If-None-Match "
                    "matched): nothing was changed. GET it again."
                )
        milestone_set_status(
            milestone=milestone,
            status=data.get("status", milestone.status),
            by=request.user,
            note=data.get("note", ""),
            evidence_url=data.get("evidence_url", ""),
            completed_on=data.get("completed_on"),
            expected_version=milestone.version if "If-Match" in request.headers else None,
        )
        # A fresh state: the change (and, on PostgreSQL, its counter) has committed.
        request._tracker_state = conditional.current_state(fresh=True)  # type: ignore[attr-defined]
        fresh = self.get_queryset().get(pk=milestone.pk)
        response = Response(self.get_serializer(fresh).data)
        response["ETag"] = self.etag("retrieve")
        response["Cache-Control"] = "no-store"
        return response


# --- The status document ------------------------------------------------------------------


def as_of_header(request: Any) -> str | None:
    as_of = request_state(request, with_as_of=True).as_of
    return as_of.isoformat().replace("+00:00", "Z") if as_of else None


class StatusView(ApiView, APIView):
    """One compact document for pollers; ``?as_of=YYYY-MM-DD`` for a past day."""

    extra_params = {"as_of": False}

    @extend_schema(
        summary="Everything a poller needs, in one document",
        description=(
            "Every agreement's progress, the overdue milestones (the first "
            f"{settings.API_STATUS_OVERDUE_LIMIT}, oldest deadline first, with the total), "
            "the next 10 deadlines, and as_of (the last sweep). Poll it with If-None-Match: "
            "the ETag changes when anything in it changes (as_of excepted: it is in the "
            "X-Tracker-As-Of header of every answer, 304s included; hence a weak ETag)."
        ),
        parameters=LIST_HEADERS,
        responses=StatusSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        if "as_of" in request.query_params:
            # A past day: the record as it stood then, by the same road (rate limit,
            # preconditions, problem details) as every other answer.
            try:
                day = selectors.parse_as_of(
                    request.query_params["as_of"], request_state(request).now
                )
            except selectors.AsOfError as exc:
                raise ValidationError({"as_of": [exc.reason]}) from None
            if day is None:  # as every parameter here: empty is an error, not "absent"
                raise ValidationError({"as_of": ["is empty; give a day as YYYY-MM-DD"]})
            return self.respond(lambda: as_of_document(request, day))
        request_state(request, with_as_of=True)
        as_of = as_of_header(request)
        response = self.respond(
            lambda: self.document(request), etag=lambda: self.etag("status", weak=True)
        )
        if response.status_code == 200:
            # as_of leads the document, outside the ETag and the cached body.
            head = b'{"as_of":' + json.dumps(as_of).encode()
            body = response.content
            response.content = head + (b"," + body[1:] if body != b"{}" else b"}")
        if as_of:
            response["X-Tracker-As-Of"] = as_of
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


# --- The index ------------------------------------------------------------------------------


class IndexView(ApiView, APIView):
    """/api/v1/: where everything is."""

    @extend_schema(
        summary="The API's index: its endpoints, the schema and the docs",
        responses=inline_serializer(
            "Index",
            {
                name: drf_serializers.URLField()
                for name in (
                    "status",
                    "agreements",
                    "commitments",
                    "milestones",
                    "events",
                    "schema",
                    "docs",
                    "redoc",
                )
            },
        ),
    )
    def get(self, request: Request) -> HttpResponse:
        def body() -> dict[str, Any]:
            base = base_url(request)
            absolute = request.build_absolute_uri
            return {
                "status": f"{base}status/",
                "agreements": f"{base}agreements/",
                "commitments": f"{base}commitments/",
                "milestones": f"{base}milestones/",
                "events": f"{base}events/",
                "schema": absolute(reverse("tracker_api:schema")),
                "docs": absolute(reverse("tracker_api:docs")),
                "redoc": absolute(reverse("tracker_api:redoc")),
            }

        # The index changes only with a deployment: its ETag is its content's.
        etag = make_etag("index", json.dumps(body(), sort_keys=True))
        return self.respond(body, etag=lambda: etag)


# --- The event feed -------------------------------------------------------------------------


class EventFeedView(ApiView, APIView):
    """Every change, oldest first, after an opaque cursor (see events.py)."""

    extra_params = {"after": False, "limit": False}

    @events.FEED_SCHEMA
    def get(self, request: Request) -> HttpResponse:
        # No validator, so never a 304: a conditional GET is charged here as the 200 it
        # will be (else it would only be counted at the end, and never refused).
        self.on_modified()
        return events.feed(self, request, base_url(request))


# --- The status document as of a past day (the public site's "as of", issue 10) ----------


def _due(row: tuple[Milestone, selectors.MilestoneState]) -> dt.date:
    due = row[1].due_on
    assert due is not None  # only dated milestones are sorted: overdue ones, or filtered on it
    return due


def as_of_document(request: Request, day: dt.date) -> dict[str, Any]:
    """The status document as the record stood at the end of ``day`` in each agreement's
    zone, from ``commitments.selectors.record_as_of``, the selector of the public
    pages' "as of"."""
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

    late = sorted((r for r in record.milestones if r[1].overdue), key=_due)
    soon = sorted(
        (r for r in record.milestones if r[1].due_on and not (r[1].overdue or r[1].is_closed)),
        key=_due,
    )
    agreements = [
        {"slug": a.slug, "url": f"{base}agreements/{a.slug}/", "short_name": a.short_name}
        | {"time_zone": a.time_zone, "progress": progress}
        for a, progress in record.agreements
    ]
    return {
        "as_of_day": day,
        "agreements": agreements,
        "overdue": {"count": len(late), "milestones": [brief(*r) for r in late]},
        "next_deadlines": [brief(*r) for r in soon[:10]],
    }
