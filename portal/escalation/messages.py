"""The words of reminders and escalations: Chinese whatever the reader's language (they go out
by mail, SMS and robot); each SMS fits one 70-character segment with the provider's signature
(portal/notify/templates.py: TEXT_LIMIT)."""
from __future__ import annotations

from portal.i18n import force_locale

from portal.clock import as_utc, fmt, local, utcnow
from portal.notify.templates import TEXT_LIMIT, sms_text


def _due_short(value) -> str:
    return local(value).strftime("%m-%d %H:%M") if value else "—"


def _label(thing) -> str:
    with force_locale("zh_CN"):
        return thing.label if thing is not None else "—"


def reminder(case, step, percent: int, due) -> tuple[str, str, str]:
    """(subject, body, sms) of the reminder sent at `percent` % of a step's limit."""
    name = _label(step)
    subject = f"【客诉提醒】{case.number}「{name}」时限已过{percent}%"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）的「{name}」"
            f"已用去 {percent}% 的时限，请在 {fmt(due) or '—'} 前办理。")
    sms = sms_text("reminder", number=case.number, step=name, percent=percent, due=_due_short(due))
    return subject, body, sms


def repeated(case, step, n: int) -> tuple[str, str, str]:
    """The reminder repeated after a breach (breach action "repeat")."""
    name = _label(step)
    subject = f"【客诉催办】{case.number}「{name}」已超时（第{n}次提醒）"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）的「{name}」已超过时限"
            f"（{fmt(case.due_at) or '—'}），请尽快办理。这是第 {n} 次提醒。")
    sms = f"催办：投诉{case.number}「{name}」已超时，请尽快办理（第{n}次）。"
    return subject, body, sms


def clock_task(case, clock) -> tuple[str, str, str]:
    """A case clock that asks the desk to do something (progress check, revisit)."""
    name = _label(clock)
    subject = f"【客诉提醒】{case.number} 请{name}"
    body = f"投诉 {case.number}（{case.customer_name}，{case.product_name}）已到「{name}」的时间，请办理。"
    sms = f"提醒：投诉{case.number}已到「{name}」时间，请办理。"
    return subject, body, sms


def _overdue(case) -> str:
    due = as_utc(case.due_at)
    minutes = max(0, int((utcnow() - due).total_seconds() // 60)) if due else 0
    hours, minutes = divmod(minutes, 60)
    return f"{hours}小时{minutes}分" if hours else f"{minutes}分钟"


def escalation(case, level: int, level_name: str, reason: str, *, overdue_step=None) -> tuple[str, str, str]:
    """(subject, body, sms); `overdue_step`: the step whose limit passed (the SMS says by how much)."""
    step = _label(case.step) if case.step else "—"
    subject = f"【客诉升级】{case.number} 升至第{level}级（{level_name}）"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）{reason}，"
            f"已升级至第 {level} 级（{level_name}）。当前环节：「{step}」，"
            f"办理时限：{fmt(case.due_at) or '—'}。请督办。")
    if overdue_step is not None:
        sms = sms_text("escalation", level=level, number=case.number, step=_label(overdue_step),
                       overdue=_overdue(case))
    else:
        sms = f"升级{level}级：投诉{case.number}{reason}，请督办。"
        if len(sms) > TEXT_LIMIT:
            sms = f"升级{level}级：投诉{case.number}需您督办，详见客诉系统。"
    return subject, body, sms
