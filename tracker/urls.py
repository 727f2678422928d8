from django.urls import include, path

from .alerts import unsubscribe
from .archive import views as archive

app_name = "tracker"
urlpatterns = [
    path("", include("tracker.public.urls")),
    path("archive/<int:pk>/", archive.copy_page, name="archive_copy"),
    path("archive/<int:pk>/raw", archive.copy_raw, name="archive_raw"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path(
        "unsubscribe/one-click/<str:token>/",
        unsubscribe.one_click,
        name="unsubscribe_one_click",
    ),
]
