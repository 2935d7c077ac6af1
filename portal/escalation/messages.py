"""The words of reminders and escalations: Chinese whatever the reader's language (they go out
by mail, SMS and robot); each SMS fits one 70-character segment."""
from __future__ import annotations

from flask_babel import force_locale

from portal.clock import fmt, local

SMS_SEGMENT = 70


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
    sms = f"【客诉提醒】{case.number}「{name}」已过{percent}%时限，请于{_due_short(due)}前办理。"
    return subject, body, sms[:SMS_SEGMENT]


def repeated(case, step, n: int) -> tuple[str, str, str]:
    """The reminder repeated after a breach (breach action "repeat")."""
    name = _label(step)
    subject = f"【客诉催办】{case.number}「{name}」已超时（第{n}次提醒）"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）的「{name}」已超过时限"
            f"（{fmt(case.due_at) or '—'}），请尽快办理。这是第 {n} 次提醒。")
    sms = f"【客诉催办】{case.number}「{name}」已超时，请尽快办理（第{n}次）。"
    return subject, body, sms[:SMS_SEGMENT]


def clock_task(case, clock) -> tuple[str, str, str]:
    """A case clock that asks the desk to do something (progress check, revisit)."""
    name = _label(clock)
    subject = f"【客诉提醒】{case.number} 请{name}"
    body = f"投诉 {case.number}（{case.customer_name}，{case.product_name}）已到「{name}」的时间，请办理。"
    sms = f"【客诉提醒】{case.number}已到「{name}」时间，请办理。"
    return subject, body, sms[:SMS_SEGMENT]


def escalation(case, level: int, level_name: str, reason: str) -> tuple[str, str, str]:
    step = _label(case.step) if case.step else "—"
    subject = f"【客诉升级】{case.number} 升至第{level}级（{level_name}）"
    body = (f"投诉 {case.number}（{case.customer_name}，{case.product_name}）{reason}，"
            f"已升级至第 {level} 级（{level_name}）。当前环节：「{step}」，"
            f"办理时限：{fmt(case.due_at) or '—'}。请督办。")
    sms = f"【客诉升级】{case.number}{reason}，已升至第{level}级，请督办。"
    if len(sms) > SMS_SEGMENT:
        sms = f"【客诉升级】{case.number}已升至第{level}级，请督办。"
    return subject, body, sms
