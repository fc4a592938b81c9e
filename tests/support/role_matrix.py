"""The role × purpose rule written out by hand (clinic.roles.ROLE_PURPOSES), so
the tests of campaigns, bulk sends and API keys check the code against the
same expectation and not against itself."""

ROLES = ["admin", "coordinator", "clinician", "support", "marketing"]
PURPOSES = ["care", "marketing", "security", "feedback"]
# (role, purpose) pairs that may be sent to many patients; security is no
# role's (codes and alerts are Liaison's own, and never a partner key's).
ALLOWED = {
    ("admin", "care"),
    ("admin", "marketing"),
    ("admin", "feedback"),
    ("coordinator", "care"),
    ("coordinator", "feedback"),
    ("clinician", "care"),
    ("support", "care"),
    ("marketing", "marketing"),
}
MATRIX = [(role, purpose) for role in ROLES for purpose in PURPOSES]
