"""A new email or mobile number for a patient, proven by a code before it is saved.

``models`` holds the pending change, ``services`` the rules: the code goes to
the new address only, through the messaging pipeline's security topic; only a
keyed hash of it is stored; it is single use, expires, allows a few wrong
tries and is throttled; confirming applies the change, records it in admin
history and tells the old address. See docs/portal.md, "Contact details".
"""
