"""Staff conversations in admin: the queue (the changelist, with filters) and
the conversation page (``<id>/conversation/``), where staff read the patient's
whole thread across channels with their appointments, consent and past
conversations beside it, and reply, assign, change the status and leave
internal notes. Views parse the form and call one service; the rules are in
``conversations.services``. The page follows the conversation live
through ``/ws/staff/conversations/<public_id>/`` (``conversations.consumers``)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from clinic.admin_scoping import OrganizationScopedAdmin, staff_access_audit
from clinic.models import AccessAudit, Team
from conversations.models import Conversation, ConversationNote, SavedReply
from conversations.selectors import (
    assignable_staff,
    assignable_teams,
    consent_summary,
    conversation_get_for_staff,
    conversation_sla,
    conversation_thread,
    past_conversations,
    saved_replies_for,
    upcoming_appointments,
)
from conversations.services import (
    REPLY_MAX_LENGTH,
    ConversationError,
    conversation_assign,
    conversation_note_add,
    conversation_open,
    conversation_reply,
    conversation_status_set,
    reply_channels,
    reply_topic,
    saved_reply_render,
)


class QueueFilter(admin.SimpleListFilter):
    """The staff queue: mine, my teams', unassigned, overdue, waiting."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("mine", _("Assigned to me")),
            ("team", _("My teams")),
            ("unassigned", _("Unassigned")),
            ("overdue", _("First response overdue")),
            ("waiting", _("Patient waiting for an answer")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assigned_to=request.user)
        if value == "team":
            return queryset.filter(team__members__user=request.user).distinct()
        if value == "unassigned":
            return queryset.filter(assigned_to__isnull=True, team__isnull=True)
        if value == "overdue":
            return queryset.overdue(timezone.now())
        if value == "waiting":
            return queryset.filter(awaiting_since__isnull=False).exclude(
                status=Conversation.Status.CLOSED
            )
        return queryset


class ConversationNoteInline(admin.TabularInline):
    model = ConversationNote
    fields = ["created_at", "author", "body"]
    readonly_fields = ["created_at", "author", "body"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # notes are added on the conversation page (author, live)


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000
    )
    confidential = forms.BooleanField(
        label=_("Confidential (health information)"),
        required=False,
        help_text=_(
            "The text stays in the patient portal; the patient's channel only "
            "carries a notice that a secure message is waiting."
        ),
    )
    key = forms.CharField(widget=forms.HiddenInput)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label=_("Staff member"),
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, label=_("Team")
    )

    def __init__(self, *args, conversation: Conversation, **kwargs):
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(
            pk__in=assignable_staff(conversation).values("user_id")
        )
        self.fields["assignee"].queryset = users.order_by("last_name", "first_name")
        self.fields["assignee"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )
        self.fields["team"].queryset = assignable_teams(conversation)


class ConversationAdmin(OrganizationScopedAdmin):
    audit_action = AccessAudit.Action.VIEW_MESSAGE
    list_display = [
        "last_message_at",
        "open_link",
        "patient",
        "kind",
        "status",
        "channel",
        "assigned_to",
        "team",
        "sla",
    ]
    list_filter = [QueueFilter, "status", "kind", "channel"]
    search_fields = ["patient__identifier", "patient__family_name", "subject"]
    list_select_related = ["patient", "assigned_to", "team"]
    autocomplete_fields = ["patient"]
    # Status and assignment change on the conversation page (services keep
    # closed_at and the counters true); the form edits what describes it.
    readonly_fields = [
        "status",
        "assigned_to",
        "team",
        "channel",
        "awaiting_since",
        "first_response_due_at",
        "first_response_at",
        "staff_reply_count",
        "reopened_count",
        "closed_at",
        "last_message_at",
    ]
    inlines = [ConversationNoteInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # a new conversation starts open, unassigned
            return self.readonly_fields
        return [*self.readonly_fields, "patient"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Started by staff: nobody waits yet, so no SLA clock.
        opened = conversation_open(
            patient=obj.patient,
            kind=obj.kind,
            subject=obj.subject,
            site=obj.site,
            awaiting=False,
        )
        obj.pk, obj.public_id = opened.pk, opened.public_id
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(
            reverse("admin:conversations_conversation_thread", args=[obj.pk])
        )

    @admin.display(description=_("conversation"))
    def open_link(self, obj: Conversation) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:conversations_conversation_thread", args=[obj.pk]),
            obj.subject or _("Open the conversation"),
        )

    @admin.display(description=_("first response"))
    def sla(self, obj: Conversation) -> str:
        state = conversation_sla(obj)
        if state.answered_at:
            return _("answered")
        if state.overdue:
            return _("overdue")
        if state.due_at:
            return _("due %(when)s") % {
                "when": timezone.localtime(state.due_at).strftime("%Y-%m-%d %H:%M")
            }
        return "—"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/conversation/",
                view(self.thread_view),
                name="conversations_conversation_thread",
            ),
            path(
                "<path:object_id>/conversation/<str:action>/",
                view(require_POST(self.action_view)),
                name="conversations_conversation_action",
            ),
            *super().get_urls(),
        ]

    def _conversation(self, request: HttpRequest, object_id: str) -> Conversation:
        conversation = conversation_get_for_staff(
            user=request.user, object_id=object_id
        )
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        return conversation

    def thread_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        conversation = self._conversation(request, object_id)
        fragment = request.GET.get("fragment") == "1"
        # Live refreshes of an open page are part of the view already audited.
        if not fragment:
            staff_access_audit(
                request,
                [conversation.patient_id],
                action=AccessAudit.Action.VIEW_MESSAGE,
                detail=f"conversation {conversation.public_id}",
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "conversation": conversation,
            "patient": conversation.patient,
            "title": _("Conversation with %(patient)s")
            % {"patient": conversation.patient.full_name},
            "thread": conversation_thread(conversation),
            "sla": conversation_sla(conversation),
            "notes": conversation.notes.select_related("author"),
            "now": timezone.now(),
        }
        if fragment:
            return TemplateResponse(
                request, "admin/conversations/conversation/_live.html", context
            )
        may_change = self.has_change_permission(request, conversation)
        text = ""
        saved = request.GET.get("saved_reply")
        if saved and may_change:
            reply = get_object_or_404(
                SavedReply.objects.for_organization(conversation.organization_id),
                pk=saved if saved.isdigit() else 0,
            )
            text = saved_reply_render(saved_reply=reply, conversation=conversation)
        try:
            topic = reply_topic(conversation)
            channels = reply_channels(conversation, topic)
        except ValidationError:
            channels = []
        context.update(
            may_change=may_change,
            reply_form=ReplyForm(initial={"text": text, "key": uuid.uuid4().hex}),
            reply_channels=[c for c in channels if c != "inapp"],
            reply_max_length=REPLY_MAX_LENGTH,
            assign_form=AssignForm(
                conversation=conversation,
                initial={
                    "assignee": conversation.assigned_to_id,
                    "team": conversation.team_id,
                },
            ),
            statuses=Conversation.Status.choices,
            saved_replies=[
                (r, saved_reply_render(saved_reply=r, conversation=conversation))
                for r in saved_replies_for(conversation)
            ]
            if may_change
            else [],
            appointments=upcoming_appointments(conversation),
            consent=consent_summary(conversation),
            past=past_conversations(conversation),
            socket_path=f"/ws/staff/conversations/{conversation.public_id}/",
            fragment_url=reverse(
                "admin:conversations_conversation_thread", args=[conversation.pk]
            )
            + "?fragment=1",
        )
        return TemplateResponse(
            request, "admin/conversations/conversation/thread.html", context
        )

    def action_view(
        self, request: HttpRequest, object_id: str, action: str
    ) -> HttpResponse:
        conversation = self._conversation(request, object_id)
        if not self.has_change_permission(request, conversation):
            raise PermissionDenied
        back = reverse(
            "admin:conversations_conversation_thread", args=[conversation.pk]
        )
        try:
            done = self._act(request, conversation, action)
        except ConversationError as error:
            for text in error.messages:
                messages.error(request, text)
            return HttpResponseRedirect(back)
        if done:
            messages.success(request, done)
        return HttpResponseRedirect(back)

    def _act(self, request: HttpRequest, conversation: Conversation, action: str):
        user = request.user
        if action == "reply":
            form = ReplyForm(request.POST)
            if not form.is_valid():
                raise ConversationError(_("Write a reply of at most 5,000 characters."))
            conversation_reply(
                conversation=conversation,
                staff_user=user,
                text=form.cleaned_data["text"],
                confidential=form.cleaned_data["confidential"],
                close=request.POST.get("close") == "1",
                idempotency_key=form.cleaned_data["key"],
            )
            return _("Reply sent.")
        if action == "assign":
            form = AssignForm(request.POST, conversation=conversation)
            if not form.is_valid():
                raise ConversationError(_("Choose a staff member or a team."))
            conversation_assign(
                conversation=conversation,
                by=user,
                assignee=form.cleaned_data["assignee"],
                team=form.cleaned_data["team"],
            )
            return _("Assignment saved.")
        if action == "status":
            conversation_status_set(
                conversation=conversation,
                status=request.POST.get("status", ""),
                by=user,
            )
            return _("Status changed.")
        if action == "note":
            conversation_note_add(
                conversation=conversation,
                author=user,
                body=request.POST.get("body", ""),
            )
            return _("Note added.")
        raise ConversationError(_("Unknown action."))


class SavedReplyAdmin(OrganizationScopedAdmin):
    list_display = ["title", "language", "created_at"]
    list_filter = ["language"]
    search_fields = ["title", "body"]
    fields = ["organization", "title", "language", "body"]


admin.site.register(Conversation, ConversationAdmin)
admin.site.register(SavedReply, SavedReplyAdmin)
