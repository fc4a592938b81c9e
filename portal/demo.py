"""Demo second factors for the demo staff (demo/seed.py makes the users).

Every demo staff user, and the demo superuser, gets:

- an email device (codes go to their address by Django mail: the console in
  development), and
- backup codes ``<role>-1`` … ``<role>-5`` (``admin-1`` for ``lilas.admin``
  and for ``admin``, ``clinician-3`` for ``riverside.clinician``, …).

Backup codes work once; running ``seed_demo`` again restores the used ones.
DEBUG-only demo data, like the demo password.
"""

from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from django.contrib.auth import get_user_model

from clinic.demo_data import DEMO_SUPERUSER, ORGANIZATIONS, STAFF_ROLES

DEMO_BACKUP_CODES = 5


def demo_backup_codes(username: str) -> list[str]:
    role = username.rsplit(".", 1)[-1]
    return [f"{role}-{n}" for n in range(1, DEMO_BACKUP_CODES + 1)]


def seed(*, report) -> None:
    usernames = [DEMO_SUPERUSER] + [
        f"{spec.prefix}.{role}" for spec in ORGANIZATIONS for role in STAFF_ROLES
    ]
    for user in get_user_model().objects.filter(username__in=usernames):
        _email, created = EmailDevice.objects.get_or_create(
            user=user, name="Email", defaults={"confirmed": True}
        )
        report.count("staff email devices", created)
        static, created = StaticDevice.objects.get_or_create(
            user=user, name="Demo backup codes", defaults={"confirmed": True}
        )
        report.count("staff backup-code devices", created)
        have = set(static.token_set.values_list("token", flat=True))
        StaticToken.objects.bulk_create(
            [
                StaticToken(device=static, token=code)
                for code in demo_backup_codes(user.username)
                if code not in have
            ]
        )
