from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

admin.site.site_header = "Commitment tracker"
admin.site.site_title = "Commitment tracker"
admin.site.index_title = "Agreements, commitments and milestones"

# The API and the admin have one address each and speak one language: the API is
# cached by URL and never reads Accept-Language. The public site is English at its
# addresses and Japanese under /ja/ (tracker/public/locale.py).
urlpatterns = [
    path("api/", include("tracker.api.urls")),
    path("admin/", admin.site.urls),
    # The language switch's form posts here and Django remembers the choice in its
    # cookie. Without a CSRF token, so that a page needs no cookie of its own to offer
    # the switch (pages stay cacheable): a forged post can only change which language
    # the English pages suggest, never what any address shows.
    path("language/", csrf_exempt(set_language), name="set_language"),
    *i18n_patterns(path("", include("tracker.urls")), prefix_default_language=False),
]

# Errors raised outside a view: problem details under /api/ (tracker/api/exceptions.py).
handler400 = "tracker.api.exceptions.bad_request"
handler404 = "tracker.api.exceptions.page_not_found"
handler500 = "tracker.api.exceptions.server_error"
