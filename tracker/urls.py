from django.urls import include, path

from . import views

app_name = "tracker"
urlpatterns = [
    path("", include("tracker.public.urls")),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
