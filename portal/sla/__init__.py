"""Time limits: policies per class and step or case clock, the holiday calendar, pauses and the
due-time arithmetic. Needs nothing from portal.cases: the keys are in portal/steps.py.

    resolve(target, klass, channel) -> Limit          portal.sla.policy
    work_calendar() -> WorkCalendar                   portal.sla.policy
    deadline(limit, start, cal, pauses=()) -> UTC      portal.sla.due
    point(limit, start, percent, cal, pauses=())      portal.sla.due
    pause_case(case, reason, now) / resume_case(case, now) -> timedelta   portal.sla.pauses
"""
