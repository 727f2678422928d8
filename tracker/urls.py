from django.urls import include, path

from .alerts import unsubscribe

app_name = "tracker"
urlpatterns = [
    path("", include("tracker.public.urls")),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path(
        "unsubscribe/one-click/<str:token>/",
        unsubscribe.one_click,
        name="unsubscribe_one_click",
    ),
]
