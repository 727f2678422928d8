from __future__ import annotations

from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from . import docs, views
from .exceptions import not_found

app_name = "tracker_api"

router = SimpleRouter()
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("commitments", views.CommitmentViewSet, basename="commitment")
router.register("milestones", views.MilestoneViewSet, basename="milestone")

urlpatterns = [
    path("v1/", views.IndexView.as_view(), name="index"),
    path("v1/status/", views.StatusView.as_view(), name="status"),
    path("v1/events/", views.EventFeedView.as_view(), name="events"),
    path("v1/", include(router.urls)),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.SwaggerView.as_view(url_name="tracker_api:schema"), name="docs"),
    path("redoc/", docs.RedocView.as_view(url_name="tracker_api:schema"), name="redoc"),
    # Anything else under /api/ (newlines in the path included) is a 404 in the API's
    # own format, whatever the method: no CSRF page for a write to a wrong address.
    re_path(r"^[\s\S]*$", csrf_exempt(not_found)),
]
