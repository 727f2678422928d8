from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Commitment tracker"
admin.site.site_title = "Commitment tracker"
admin.site.index_title = "Agreements, commitments and milestones"

urlpatterns = [
    path("api/", include("tracker.api.urls")),
    path("", include("tracker.urls")),
    path("admin/", admin.site.urls),
]

# Errors raised outside a view: problem details under /api/ (tracker/api/exceptions.py).
handler404 = "tracker.api.exceptions.page_not_found"
handler500 = "tracker.api.exceptions.server_error"
