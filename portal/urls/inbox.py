"""The secure inbox: /portal/inbox/…"""

from django.urls import path

from portal.views import inbox

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<uuid:public_id>/", inbox.inbox_message, name="inbox_message"),
    path("inbox/<uuid:public_id>/reply/", inbox.inbox_reply, name="inbox_reply"),
    path(
        "inbox/<uuid:public_id>/read/",
        inbox.inbox_mark_read,
        name="inbox_mark_read",
    ),
    path(
        "inbox/<uuid:public_id>/object/",
        inbox.inbox_object,
        name="inbox_object",
    ),
    path("inbox/<uuid:public_id>/hide/", inbox.inbox_hide, name="inbox_hide"),
    path(
        "inbox/<uuid:public_id>/unhide/",
        inbox.inbox_unhide,
        name="inbox_unhide",
    ),
]
