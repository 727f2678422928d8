"""Staff triage: findings to review (the admin index's "needs attention" links here),
each shown with its excerpt, the matched words marked, and its ranked suggestions;
log it, mark it not relevant, or a duplicate; dismiss in bulk. Watched sources and
keywords are kept here too. Every decision goes through ``services``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from commitments import services as record
from commitments.admin import utc_label
from commitments.admin.forms import HTTPS_URLS, KeyedAutocompleteAdmin
from commitments.admin.records import key_or_404, staff
from commitments.models import Milestone

from . import services
from .forms import DismissForm, DuplicateForm, LogFindingForm
from .highlight import highlight
from .models import Finding, Item, Keyword, WatchedSource
from .selectors import ranked_suggestions


class PendingFirst(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("all", "All"), *Finding.State.choices]

    def choices(self, changelist: Any) -> Any:
        # No "All" of Django's own: the list opens on the findings to review.
        current = self.value() or Finding.State.PENDING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        value = self.value() or Finding.State.PENDING
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin[Finding]):
    list_display = ["title", "best", "top_score_shown", "source", "published", "state", "found"]
    list_display_links = ["title"]
    list_filter = [PendingFirst, ("item__source", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["item__source"]
    search_fields = ["item__title", "item__text", "item__address"]
    ordering = ["-top_score", "-created_at", "-id"]
    actions = ["dismiss_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Finding]:
        return super().get_queryset(request).prefetch_related(ranked_suggestions())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # findings come from watched sources and import_items

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a decision is kept; dismiss instead

    @admin.display(description="item", ordering="item__title")
    def title(self, obj: Finding) -> str:
        return obj.item.title or obj.item.address

    @admin.display(description="best suggestion")
    def best(self, obj: Finding) -> str:
        first = next(iter(obj.suggestions.all()), None)
        if first is None:
            return "—"
        return f"{first.commitment.agreement.short_name}: {first.commitment.title}"

    @admin.display(description="score", ordering="top_score")
    def top_score_shown(self, obj: Finding) -> str:
        return f"{obj.top_score:.1f}"

    @admin.display(description="source", ordering="item__source__name")
    def source(self, obj: Finding) -> str:
        return str(obj.item.source or "imported")

    @admin.display(description="published (UTC)", ordering="item__published_at")
    def published(self, obj: Finding) -> str:
        return utc_label(obj.item.published_at)

    @admin.display(description="found (UTC)", ordering="created_at")
    def found(self, obj: Finding) -> str:
        return utc_label(obj.created_at)

    # --- The review page and its three decisions --------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/log/", view(self.log_view), name="intake_finding_log"),
            path("<int:pk>/dismiss/", view(self.dismiss_view), name="intake_finding_dismiss"),
            path("<int:pk>/duplicate/", view(self.duplicate_view), name="intake_finding_duplicate"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self._review(request, self._finding(request, object_id))

    def _review(
        self,
        request: HttpRequest,
        finding: Finding,
        dismiss_form: DismissForm | None = None,
        duplicate_form: DuplicateForm | None = None,
    ) -> HttpResponse:
        """The review page; with a decision's form as posted when it was refused, so
        that its errors show beside what the editor typed."""
        suggestions = list(finding.suggestions.all())
        terms = {t for s in suggestions for t in s.terms}
        loggable = _milestones_of({s.commitment_id for s in suggestions})
        return self._page(
            request,
            "review",
            f"Finding: {finding.item.title or finding.item.address}",
            finding=finding,
            item=finding.item,
            excerpt=highlight(finding.item.text, terms),
            title_marked=highlight(finding.item.title, terms),
            suggestions=[
                {
                    "s": s,
                    "sentences": [highlight(x, s.terms) for x in s.sentences],
                    "milestones": loggable[s.commitment_id],
                }
                for s in suggestions
            ],
            can_decide=self.has_change_permission(request, finding)
            and finding.state == Finding.State.PENDING,
            can_log=request.user.has_perm("commitments.add_logentry"),
            dismiss_form=dismiss_form or DismissForm(),
            duplicate_form=duplicate_form or DuplicateForm(),
        )

    def _page(self, request: HttpRequest, page: str, title: str, **context: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **context,
        }
        return TemplateResponse(request, f"admin/intake/finding/{page}.html", context)

    def log_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = self._finding(request, str(pk), decide=True)
        if not request.user.has_perm("commitments.add_logentry"):
            raise PermissionDenied
        suggestion = next(
            (s for s in finding.suggestions.all() if str(s.pk) == request.GET.get("suggestion")),
            next(iter(finding.suggestions.all()), None),
        )
        form = LogFindingForm(
            request.POST or None,
            finding=finding,
            suggestion=suggestion,
            milestone=request.GET.get("milestone"),
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = services.finding_log(
                    finding=finding,
                    by=staff(request),
                    on=data["on"],
                    kind=data["kind"],
                    text=data["text"],
                    source_address=data["source_address"],
                    source_passage=form.passage,
                    commitment=data["commitment"],
                    milestone=data["milestone"],
                )
            except record.TransitionError as exc:  # beside the field it names, if shown
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            except services.DecisionError as exc:
                form.add_error(None, str(exc))
            else:
                link = reverse("admin:commitments_logentry_change", args=[entry.pk])
                self.message_user(
                    request,
                    format_html(
                        'Logged: <a href="{}">{}</a> on {}.',
                        link,
                        entry,
                        data["milestone"] or data["commitment"],
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:intake_finding_changelist"))
        return self._page(request, "log", "Log this finding", finding=finding, form=form)

    def dismiss_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = self._finding(request, str(pk), decide=True)
        form = DismissForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            done = services.findings_dismiss(
                findings=[finding],
                by=staff(request),
                reason=data["reason"],
                negative_keyword=data["negative_keyword"],
            )
            if not done:  # decided in another tab or by another editor meanwhile
                self.message_user(request, f"“{finding}” was already decided.", messages.ERROR)
                return HttpResponseRedirect(reverse("admin:intake_finding_change", args=[pk]))
            self.message_user(request, f"“{finding}” marked not relevant.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:intake_finding_changelist"))
        if form.is_bound:
            return self._review(request, finding, dismiss_form=form)
        return HttpResponseRedirect(reverse("admin:intake_finding_change", args=[pk]))

    def duplicate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = self._finding(request, str(pk), decide=True)
        form = DuplicateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.finding_mark_duplicate(
                    finding=finding, of=form.cleaned_data["duplicate_of"], by=staff(request)
                )
            except services.DecisionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"“{finding}” marked a duplicate.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:intake_finding_changelist"))
        elif form.is_bound:
            return self._review(request, finding, duplicate_form=form)
        return HttpResponseRedirect(reverse("admin:intake_finding_change", args=[pk]))

    def _finding(self, request: HttpRequest, object_id: str, decide: bool = False) -> Finding:
        key_or_404(Finding, object_id)
        finding = get_object_or_404(
            Finding.objects.select_related("item__source").prefetch_related(ranked_suggestions()),
            pk=object_id,
        )
        allowed = (
            self.has_change_permission(request, finding)
            if decide
            else self.has_view_or_change_permission(request, finding)
        )
        if not allowed:
            raise PermissionDenied
        return finding

    @admin.action(
        description="Dismiss the selected findings as not relevant", permissions=["change"]
    )
    def dismiss_selected(
        self, request: HttpRequest, queryset: QuerySet[Finding]
    ) -> HttpResponse | None:
        form = DismissForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = services.findings_dismiss(
                findings=list(queryset),
                by=staff(request),
                reason=form.cleaned_data["reason"],
                negative_keyword=form.cleaned_data["negative_keyword"],
            )
            self.message_user(request, f"{done} finding(s) marked not relevant.", messages.SUCCESS)
            return None
        return self._page(
            request,
            "dismiss",
            "Dismiss findings as not relevant",
            findings=queryset.select_related("item"),
            form=form,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )


def _milestones_of(commitment_ids: set[int]) -> dict[int, list[Milestone]]:
    """What a finding may be logged on in one click: each suggested commitment's
    milestones, by due date (a recurring obligation once, not each occurrence). One
    query."""
    found: dict[int, list[Milestone]] = defaultdict(list)
    milestones = Milestone.objects.filter(
        commitment_id__in=commitment_ids, archived_at__isnull=True, series__isnull=True
    ).order_by(F("due_on").asc(nulls_last=True), "id")
    for m in milestones.only("id", "title", "commitment_id", "due_on"):
        found[m.commitment_id].append(m)
    return found


@admin.register(WatchedSource)
class WatchedSourceAdmin(admin.ModelAdmin[WatchedSource]):
    list_display = [
        "name",
        "kind",
        "enabled",
        "interval_minutes",
        "last_outcome",
        "last_fetched",
        "next_fetch",
        "consecutive_failures",
    ]
    list_filter = ["enabled", "kind", "last_outcome"]
    search_fields = ["name", "url"]
    filter_horizontal = ["agreements"]
    formfield_overrides = HTTPS_URLS
    readonly_fields = [
        "last_fetched_at",
        "last_outcome",
        "last_status",
        "last_error",
        "etag",
        "last_modified",
        "consecutive_failures",
    ]
    fields = [
        "name",
        "url",
        "kind",
        "agreements",
        "enabled",
        "interval_minutes",
        "next_fetch_at",
        "note",
        *readonly_fields,
    ]
    actions = ["fetch_soon"]

    @admin.display(description="last fetched (UTC)", ordering="last_fetched_at")
    def last_fetched(self, obj: WatchedSource) -> str:
        return utc_label(obj.last_fetched_at)

    @admin.display(description="next fetch (UTC)", ordering="next_fetch_at")
    def next_fetch(self, obj: WatchedSource) -> str:
        return utc_label(obj.next_fetch_at)

    @admin.action(description="Fetch the selected sources at the next run", permissions=["change"])
    def fetch_soon(self, request: HttpRequest, queryset: QuerySet[WatchedSource]) -> None:
        count = queryset.update(next_fetch_at=timezone.now())
        self.message_user(request, f"{count} source(s) will be fetched at the next run.")


@admin.register(Keyword)
class KeywordAdmin(KeyedAutocompleteAdmin):
    list_display = ["phrase", "negative", "weight", "agreement", "commitment", "note"]
    list_filter = ["negative", "agreement"]
    list_select_related = ["agreement", "commitment__agreement"]
    search_fields = ["phrase", "note"]
    autocomplete_fields = ["commitment"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin[Item]):
    list_display = ["title", "address", "source", "published_at", "created_at"]
    list_select_related = ["source"]
    search_fields = ["title", "address", "text"]
    readonly_fields = [f.name for f in Item._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
