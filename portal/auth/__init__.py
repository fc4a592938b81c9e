"""Sign-in and the second factor for the portal (issue 5).

Passwords go through django-allauth, guessing is throttled by django-axes, and
every portal page then asks for a second factor from django-otp: an
authenticator app (TOTP), a code by email or SMS sent through messaging's
``security`` purpose, or single-use backup codes.
"""
