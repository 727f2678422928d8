from django.urls import path

from . import views

app_name = "tracker"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("milestones/<int:pk>/", views.milestone_page, name="milestone"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
