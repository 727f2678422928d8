from __future__ import annotations

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from . import docs, views
from .exceptions import not_found

app_name = "tracker_api"

router = SimpleRouter()
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("commitments", views.CommitmentViewSet, basename="commitment")
router.register("milestones", views.MilestoneViewSet, basename="milestone")

# Lists and the status document answer an anonymous poller's 304 before DRF.
for pattern in router.urls:
    if pattern.name.endswith("-list"):
        viewset = pattern.callback.cls
        pattern.callback = views.answer_304_early(
            pattern.callback,
            kind=f"{viewset.__name__}.list",
            filterset_class=viewset.filterset_class,
        )

urlpatterns = [
    path(
        "v1/status/",
        views.with_as_of(
            views.answer_304_early(views.StatusView.as_view(), kind="status", as_of=True)
        ),
        name="status",
    ),
    path("v1/", include(router.urls)),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.SwaggerView.as_view(url_name="tracker_api:schema"), name="docs"),
    path("redoc/", docs.RedocView.as_view(url_name="tracker_api:schema"), name="redoc"),
    # Anything else under /api/ is a 404 in the API's own format.
    re_path(r"^.*$", not_found),
]
