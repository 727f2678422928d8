from django.urls import path

from . import unsubscribe, views

app_name = "tracker"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("milestones/<int:pk>/", views.milestone_page, name="milestone"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path(
        "unsubscribe/one-click/<str:token>/",
        unsubscribe.one_click,
        name="unsubscribe_one_click",
    ),
]
