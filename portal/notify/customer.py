"""The customer told: an acknowledgement SMS at intake with the case number, when they will
hear back and their progress link (portal/customer), and a message when the case closes
(signed off, or refused at verification). The link itself is made for every case, whatever
its channel, in the intake transaction (acknowledge), so the desk can print it on a receipt.

Only for cases from the channels in CUSTOMER_SMS_CHANNELS (default: the 800 hotline, where the
customer has just called and left a mobile number), and only to a mainland mobile number.
Rows go to the outbox by address only (no user), kind "customer", in the transaction of the
intake or closing itself; the texts are portal/notify/templates.py's (Chinese, one segment).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from portal.clock import SHANGHAI, as_utc, utcnow
from portal.labels import N_
from portal.notify.outbox import add_message
from portal.notify.templates import FIELDS, sms_text

MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _channel_names(config) -> set[str]:
    raw = config.get("CUSTOMER_SMS_CHANNELS") or ""
    return {part.strip() for part in raw.split(",") if part.strip()}


def config_problems(config) -> list[str]:
    """What in the customer and 催办 settings can never work (checked when the portal starts)."""
    from portal.cases.enums import Channel
    known = [c.value for c in Channel]
    problems = []
    unknown = sorted(_channel_names(config) - set(known))
    if unknown:
        problems.append(f"CUSTOMER_SMS_CHANNELS 含未知渠道 {', '.join(unknown)}（可用：{', '.join(known)}）")
    if _channel_names(config) and not (config.get("CUSTOMER_HOTLINE") or "").strip():
        problems.append("CUSTOMER_HOTLINE 为空：结案短信需要告诉顾客的客服电话")
    link_length = len((config.get("PORTAL_BASE_URL") or "").rstrip("/")) + len("/p/") + 22
    if _channel_names(config) and link_length > FIELDS["link"]:
        problems.append(f"PORTAL_BASE_URL 太长：受理短信中的进度链接将有 {link_length} 个字符，"
                        f"最多 {FIELDS['link']} 个（请用较短的域名）")
    if int(config.get("CUSTOMER_LINK_DAYS", 30) or 0) < 1:
        problems.append(f"CUSTOMER_LINK_DAYS 应为正整数天，当前为 {config.get('CUSTOMER_LINK_DAYS')!r}")
    if int(config.get("HURRY_COOLDOWN_MINUTES") or 0) < 0:
        problems.append(f"HURRY_COOLDOWN_MINUTES 不能为负数，当前为 {config.get('HURRY_COOLDOWN_MINUTES')!r}")
    if int(config.get("BELL_POLL_SECONDS") or 0) < 1:
        problems.append(f"BELL_POLL_SECONDS 应为正整数秒，当前为 {config.get('BELL_POLL_SECONDS')!r}")
    return problems


def check_config(config) -> None:
    """Refuse to start on a setting that can never work, saying which and why."""
    from portal.notify.checks import ConfigError
    problems = config_problems(config)
    if problems:
        raise ConfigError("顾客短信与催办配置有误，门户未启动：\n" + "\n".join(f"  - {p}" for p in problems))


def sms_channels() -> set[str]:
    """The intake channels whose customers are told by SMS (Channel values; checked at start)."""
    return _channel_names(current_app.config)


def mobile_of(case) -> str | None:
    """The customer's mobile number, or None (a landline cannot take an SMS)."""
    digits = case.customer_phone_digits or ""
    return digits if MOBILE.match(digits) else None


def short_time(value) -> str:
    """12-31 23:59 in Shanghai: the SMS has no room for the year (templates.FIELDS["due"])."""
    return as_utc(value).astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def reply_by(case, now=None):
    """When the customer hears back: the accepted-solution clock (4 h from receipt by default,
    in its policy's calendar), the first thing the procedures promise the customer. A letter
    entered after that time has passed is promised the same span from now."""
    from portal.sla.due import deadline
    from portal.sla.policy import resolve, work_calendar
    from portal.steps import Clock
    now = now or utcnow()
    limit, cal = resolve(Clock.SOLUTION, case.klass, case.channel), work_calendar()
    by = deadline(limit, as_utc(case.received_at), cal)
    return by if by is not None and by > now else deadline(limit, now, cal)


def acknowledgement_text(number: str, by, link: str) -> str:
    return sms_text("customer_ack", number=number, reply_by=short_time(by), link=link)


def closed_text(number: str) -> str:
    return sms_text("customer_closed", number=number, phone=current_app.config["CUSTOMER_HOTLINE"])


def _tell(case, key: str, subject: str, text: str, new_case: bool = False) -> list:
    """`new_case`: the case was registered in this transaction, so its key cannot be taken."""
    channel = getattr(case.channel, "value", case.channel)
    phone = mobile_of(case)
    if channel not in sms_channels() or phone is None:
        return []
    msg = add_message(key=key, channel="sms", address=phone, subject=subject, body=text,
                      case_id=case.id, kind="customer", key_checked=new_case)
    return [msg] if msg is not None else []


def acknowledge(case, event_seq: int | None = None) -> list:
    """At intake (in its transaction): the case's progress link is made, and the customer is
    told the number, when they will hear back and the link. Once per case."""
    from portal.customer.links import absolute_url, create_link
    link = create_link(case)  # registered in this very transaction: it has no link yet
    return _tell(case, f"case:{case.id}:customer:ack", f"受理短信 {case.number}",
                 acknowledgement_text(case.number, reply_by(case), absolute_url(link)), new_case=True)


def tell_closed(case, event_seq: int) -> list:
    """At closing, signed off or refused at verification (in its transaction); a reopened
    case closed again is told again."""
    return _tell(case, f"case:{case.id}:customer:closed:{event_seq}", f"结案短信 {case.number}",
                 closed_text(case.number))


# What the case page says of each customer SMS (the outbox row's status).
STATUS_LABELS = {"pending": N_("待发送"), "sending": N_("发送中"), "sent": N_("已发送"),
                 "failed": N_("发送失败，将重试"), "dead": N_("发送失败"), "cancelled": N_("已取消")}


@dataclass(frozen=True)
class Told:
    what: str  # msgid: 受理短信 / 结案短信
    status: str  # msgid of STATUS_LABELS
    at: datetime | None  # when it went out, else when it is due


def told_of(case, messages) -> tuple[list[Told], str | None]:
    """The customer SMS of a case for its page, and (msgid) why none was sent if the channel
    says the customer should have been told. `messages`: the case's outbox rows as the page
    reads them (escalation.history.page_messages)."""
    rows = sorted((m for m in messages if m.kind == "customer"), key=lambda m: m.id)
    told = [Told(N_("受理短信") if r.key.endswith(":ack") else N_("结案短信"),
                 STATUS_LABELS.get(r.status, r.status), r.sent_at or r.send_after) for r in rows]
    channel = getattr(case.channel, "value", case.channel)
    why = None
    if not told and channel in sms_channels() and mobile_of(case) is None:
        why = N_("顾客电话不是手机号，未发送短信")
    return told, why
