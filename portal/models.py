"""The portal's models live with their feature; Django finds them here."""

from portal.auth.devices import EmailCodeDevice, SmsCodeDevice
from portal.contact_points.models import ContactPointChange

__all__ = ["ContactPointChange", "EmailCodeDevice", "SmsCodeDevice"]
