"""What every record's admin shares: saves through an edit service with the version
the editor loaded, the audit trail (the History button), archive instead of delete.
Nothing here writes a record directly; ``commitments.services`` does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from modeltranslation.admin import TranslationAdmin
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..models import LogEntry
from .filters import DateHierarchyAdmin
from .forms import HTTPS_URLS, VersionedForm
from .history import HistoryLabels
from .inlines import LOG_ADD_FIELDS
from .labels import BADGE_MEDIA, ArchivedColumn


def can_set_status(request: HttpRequest) -> bool:
    return request.user.has_perm(services.STATUS_PERMISSION)


def staff(request: HttpRequest) -> User:
    """Who the services record. The admin site serves only logged-in staff
    (``AdminSite.has_permission``), so this is never the anonymous user; the stubs type
    ``request.user`` for any request, and mypy cannot follow the site's check."""
    return cast(User, request.user)


def key_or_404(model: type[Any], object_id: str) -> None:
    """An admin address takes any text as the record's id (``x``, ``²``): a 404 for
    one the primary key refuses, as for an id with no record (Django's own change
    page does so; a query by it would raise)."""
    try:
        model._meta.pk.to_python(object_id)
    except ValidationError:
        raise Http404 from None


@dataclass(frozen=True)
class RecordWrites:
    """The services that write one kind of record: its edit and archive services, and
    the keyword they take the record by (``agreement=``, ``entry=``)."""

    edit: Callable[..., object]
    archive: Callable[..., object]
    record: str


class RecordAdmin(DateHierarchyAdmin, ArchivedColumn, TranslationAdmin[Any], SimpleHistoryAdmin):
    """What agreements, commitments, milestones and log entries share: saves through
    an edit service with the loaded version, an audit trail (the History button),
    archive instead of delete, an "Archived" badge and filter. Each translated field
    is edited in English and Japanese one above the other (modeltranslation's
    ``TranslationAdmin`` puts ``title [en]`` and ``title [ja]`` in place of ``title``),
    with "Japanese is our translation" beside them."""

    class Media:
        css = BADGE_MEDIA

    form = VersionedForm
    formfield_overrides = HTTPS_URLS
    change_form_template = "admin/commitments/record_change_form.html"
    edit_fields: frozenset[str] = frozenset()
    # The lookup from the record to its agreement's time zone; empty: the site's zone.
    zone_path = ""
    actions = ["archive_selected"]

    writes: RecordWrites

    def archive(self, request: HttpRequest, obj: Any) -> None:
        self.writes.archive(**{self.writes.record: obj}, by=staff(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Everything here has an audit trail: archive it instead.
        return False

    def get_history_queryset(
        self, request: HttpRequest, history_manager: Any, pk_name: str, object_id: Any
    ) -> QuerySet[Any]:
        # simple-history queries by the address's text as it is.
        key_or_404(self.model, object_id)
        return super().get_history_queryset(request, history_manager, pk_name, object_id)

    def get_historical_record_context_helper(
        self, request: HttpRequest, historical_record: Any
    ) -> HistoryLabels:
        return HistoryLabels(self.model, historical_record)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any):
        form = super().get_form(request, obj, change=change, **kw)
        refusal = getattr(request, "_record_refusal", None)
        if refusal is not None:
            form = type(form.__name__, (form,), {"refusal": refusal})
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = form.edited(self.edit_fields)
        if changes:
            self.writes.edit(
                **{self.writes.record: obj},
                expected_version=form.cleaned_data["seen_version"],
                changes=changes,
                by=staff(request),
            )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Times on a record's page read in its agreement's zone (stored in UTC). The
        # response renders inside the override: a TemplateResponse renders late.
        with timezone.override(self.page_zone(object_id) or timezone.get_current_timezone()):
            response = self._change_or_refusal(request, object_id, form_url, extra_context)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
            return response

    def page_zone(self, object_id: str | None) -> str | None:
        """The agreement's zone of the record on this page (one small query)."""
        if not (self.zone_path and object_id and object_id.isdecimal()):
            return None
        rows = self.model._default_manager.filter(pk=object_id)
        return rows.values_list(self.zone_path, flat=True).first()

    def _change_or_refusal(
        self,
        request: HttpRequest,
        object_id: str | None,
        form_url: str,
        extra_context: dict[str, Any] | None,
    ) -> HttpResponse:
        if request.method == "POST" and "_archive" in request.POST and object_id:
            return self._archive_view(request, object_id)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.TransitionError as exc:
            if request.method != "POST":
                raise
            # The refused save rolled back whole (changeform_view is atomic). Show the
            # form again with what the editor typed and the refusal: nothing is lost.
            request._record_refusal = exc  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def _archive_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            self.archive(request, obj)
            self.message_user(request, f"“{obj}” is archived.", messages.SUCCESS)
        except services.TransitionError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(request.path)

    @admin.action(
        description="Archive the selected records (they stay, marked archived)",
        permissions=["change"],
    )
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = 0
        for obj in queryset:
            try:
                self.archive(request, obj)
                done += 1
            except services.TransitionError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} archived.", messages.SUCCESS)


class LoggedRecordAdmin(RecordAdmin):
    """A record with a sourced log: new entries go through the service, which takes
    their owner by the same keyword as the record's own services."""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not LogEntry:
            super().save_formset(request, form, formset, change)
            return
        # What the admin's change message reads (new_objects and the rest).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for entry_form in formset.extra_forms:
            if not entry_form.has_changed():
                continue
            data = entry_form.cleaned_data
            entry = services.logentry_create(
                by=staff(request),
                **{self.writes.record: form.instance},
                **{f: data[f] for f in LOG_ADD_FIELDS if f in data},
            )
            formset.new_objects.append(entry)
