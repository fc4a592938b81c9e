"""The portal's models live with their feature; Django finds them here."""

from portal.auth.devices import EmailCodeDevice, SmsCodeDevice

__all__ = ["EmailCodeDevice", "SmsCodeDevice"]
