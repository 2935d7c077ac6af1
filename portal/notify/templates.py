"""SMS texts: each fits one segment (70 Chinese characters) with the provider's signature
(【…】, added by Aliyun and Tencent in front and counted in the segment). The customer's
acknowledgement carries their progress link and takes two (a long message: 67 each).

Every placeholder has a longest value; longer values (a long name, a long step label) are cut
with "…", so a template can never spill into a second segment. tests/notify/test_sms_templates
renders each with worst-case values and checks the length. Rendered in Chinese, whatever the
language of the person who acted.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from portal.i18n import force_locale

from portal.labels import N_

SEGMENT = 70  # characters in one SMS segment when any character is Chinese (UCS-2)
SIGNATURE_RESERVE = 10  # 【 + up to 8 characters of sign name + 】
TEXT_LIMIT = SEGMENT - SIGNATURE_RESERVE

# The longest each value may be; a case number is "KS2026-000123" (13), a time "12-31 23:59".
FIELDS = {
    "number": 14,
    "step": 10,     # the longest step or clock label (完成并由部门领导签字)
    "due": 11,      # fmt_short(): "%m-%d %H:%M"
    "percent": 2,
    "level": 2,
    "overdue": 8,   # e.g. "23小时59分"
    "actor": 6,
    "reply_by": 11,
    "phone": 13,    # the hotline, e.g. 400-800-1234
    # PORTAL_BASE_URL + "/p/" + 22 characters; a longer base is refused at start
    # (notify/customer.config_problems), so a link is never cut.
    "link": 60,
}
LONG_SEGMENT = 67  # a segment of a long (concatenated) message: 3 characters go to its header


@dataclass(frozen=True)
class SmsTemplate:
    text: str  # a msgid with %(field)s placeholders
    fields: tuple[str, ...]
    segments: int = 1

    @property
    def capacity(self) -> int:
        """Characters the signature and the text may take together."""
        return SEGMENT if self.segments == 1 else LONG_SEGMENT * self.segments


TEMPLATES = {
    "step": SmsTemplate(N_("投诉%(number)s待您%(step)s，时限%(due)s，请登录客诉系统办理。"),
                        ("number", "step", "due")),
    "reminder": SmsTemplate(N_("提醒：投诉%(number)s「%(step)s」已用时限%(percent)s%%，将于%(due)s到期。"),
                            ("number", "step", "percent", "due")),
    "escalation": SmsTemplate(N_("升级%(level)s级：投诉%(number)s「%(step)s」已超时%(overdue)s，请督办。"),
                              ("level", "number", "step", "overdue")),
    "hurry": SmsTemplate(N_("催办：%(actor)s催您办理投诉%(number)s「%(step)s」，时限%(due)s。"),
                         ("actor", "number", "step", "due")),
    "customer_ack": SmsTemplate(N_("您的投诉已受理，编号%(number)s，我们将于%(reply_by)s前联系您。查看进度：%(link)s"),
                                ("number", "reply_by", "link"), segments=2),
    "customer_closed": SmsTemplate(N_("您的投诉%(number)s已办结，感谢您的反馈。如有疑问请致电%(phone)s。"),
                                   ("number", "phone")),
}


def clip(value, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def sms_text(name: str, **values) -> str:
    """The SMS `name` in Chinese with these values, each cut to its longest allowed length."""
    template = TEMPLATES[name]
    missing = set(template.fields) - set(values)
    if missing:
        raise KeyError(f"SMS template {name!r} needs {sorted(missing)}")
    clipped = {field: clip(values[field], FIELDS[field]) for field in template.fields}
    with force_locale("zh_CN"):
        return gettext(template.text, **clipped)
