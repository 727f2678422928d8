from __future__ import annotations

from django.templatetags.static import static
from django.urls import path
from django.views.generic.base import RedirectView

from . import badges, calendar, downloads, feeds, follow, views

# Included by tracker/urls.py into the "tracker" namespace.
urlpatterns = [
    path("", views.home, name="overview"),
    path("agreements/<slug:slug>/", views.agreement_page, name="agreement"),
    path(
        "agreements/<slug:slug>/commitments/<slug:key>/",
        views.commitment_page,
        name="commitment",
    ),
    path("milestones/<int:pk>/", views.milestone_page, name="milestone"),
    path("sources/", views.sources_page, name="sources"),
    path("agreements/<slug:slug>/timeline.svg", downloads.timeline_svg, name="timeline_svg"),
    path("agreements/<slug:slug>/timeline.png", downloads.timeline_png, name="timeline_png"),
    path("agreements/<slug:slug>/milestones.csv", downloads.agreement_csv, name="export_csv"),
    path("agreements/<slug:slug>/calendar.ics", calendar.agreement_calendar, name="calendar"),
    path("calendar.ics", calendar.all_calendar, name="calendar_all"),
    path("agreements/<slug:slug>/feed.atom", feeds.ChangesFeed(), name="feed"),
    path("feed.atom", feeds.ChangesFeed(), name="feed_all"),
    path("badges/agreements/<slug:key>.svg", badges.agreement_svg, name="badge_agreement"),
    path("badges/agreements/<slug:key>.json", badges.agreement_json, name="badge_agreement_json"),
    path("badges/commitments/<int:key>.svg", badges.commitment_svg, name="badge_commitment"),
    path("badges/commitments/<int:key>.json", badges.commitment_json, name="badge_commitment_json"),
    path("badges/milestones/<int:key>.svg", badges.milestone_svg, name="badge_milestone"),
    path("badges/milestones/<int:key>.json", badges.milestone_json, name="badge_milestone_json"),
    path("follow/", follow.follow, name="follow"),
    path("follow/confirm/<str:token>/", follow.follow_confirm, name="follow_confirm"),
    # Browsers ask for /favicon.ico whatever the page says; the file is a static one.
    path("favicon.ico", RedirectView.as_view(url=static("tracker/favicon.ico"), permanent=True)),
]
