"""The secure inbox: /portal/inbox/…"""

from django.urls import path

from portal import views_inbox

urlpatterns = [
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/<uuid:public_id>/", views_inbox.inbox_message, name="inbox_message"),
    path("inbox/<uuid:public_id>/reply/", views_inbox.inbox_reply, name="inbox_reply"),
    path(
        "inbox/<uuid:public_id>/read/",
        views_inbox.inbox_mark_read,
        name="inbox_mark_read",
    ),
    path(
        "inbox/<uuid:public_id>/object/",
        views_inbox.inbox_object,
        name="inbox_object",
    ),
    path("inbox/<uuid:public_id>/hide/", views_inbox.inbox_hide, name="inbox_hide"),
    path(
        "inbox/<uuid:public_id>/unhide/",
        views_inbox.inbox_unhide,
        name="inbox_unhide",
    ),
]
