"""Words the French-label checks accept untranslated (tests/clinic/
test_admin_labels_french.py, tests/config/test_admin_pages_french.py)."""

# Written the same in French and English (compared lower-cased).
SAME_IN_FRENCH = {
    "action",
    "active",
    "communication",
    "conversation",
    "conversations",
    "description",
    "france",
    "id",
    "invitation",
    "logo",
    "message",
    "messages",
    "note",
    "parent",
    "patient",
    "patients",
    "position",
    "question",
    "questions",
    "secret",
    "sinch",
    "site",
    "sites",
    "sms",
    "source",
    "twilio",
    "urgent",
    "url",
}
