"""What the customer's page says of a case: its stage in plain words, when they will hear back
and the result as they are told it. Built from the case by whitelist: internal notes,
findings, staff names, the phone and address never reach the template."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import as_utc, utcnow
from portal.customer import links
from portal.customer.models import CustomerAppeal, CustomerRating
from portal.extensions import db
from portal.labels import N_
from portal.steps import Clock


@dataclass(frozen=True)
class Stage:
    code: str
    label: str  # msgid
    text: str  # msgid: one sentence on what is happening


STAGES = {s.code: s for s in [
    Stage("received", N_("已受理"), N_("我们已收到您的投诉，正在核实情况。")),
    Stage("info", N_("需要您补充信息"), N_("为了尽快处理，我们需要您补充一些信息，请在下方填写。")),
    Stage("checking", N_("核实中"), N_("责任部门正在调查核实您反映的问题。")),
    Stage("handling", N_("处理中"), N_("处理方案已经提出，正在落实。")),
    Stage("confirming", N_("等待您确认"), N_("处理结果已落实，我们会与您联系，确认您是否满意。")),
    Stage("closed", N_("已办结"), N_("您的投诉已办结，感谢您的反馈。")),
    Stage("rejected", N_("未予受理"), N_("经核实，您的投诉未予受理，原因见下方。")),
]}
STAGE_OF = {State.NEW: "received", State.INFO_REQUESTED: "info", State.VERIFIED: "checking",
            State.INVESTIGATING: "checking", State.PROPOSED: "handling", State.APPROVED: "handling",
            State.CONFIRMING: "confirming", State.CLOSED: "closed", State.REJECTED: "rejected"}
# The steps drawn as the progress bar (a refused complaint shows its own stage alone).
PATH = ("received", "checking", "handling", "confirming", "closed")

RESULT_STATES = (State.CONFIRMING, State.CLOSED, State.REJECTED)
RATABLE_STATES = (State.CONFIRMING, State.CLOSED)
APPEALABLE_STATES = (State.CONFIRMING, State.CLOSED, State.REJECTED)


@dataclass(frozen=True)
class Result:
    refused: bool
    reason: str | None = None  # why it was not accepted (Case.validity_reason: written for the customer)
    solution_form: str | None = None  # msgid
    solution: str | None = None
    compensation: str | None = None
    done_at: datetime | None = None


@dataclass(frozen=True)
class HearBack:
    text: str  # msgid with %(time)s
    at: datetime | None


@dataclass(frozen=True)
class CustomerView:
    number: str
    product: str
    received_at: datetime
    stage: Stage
    path: tuple[Stage, ...]
    reached: int  # index in path of the stage (-1: off the path)
    hear_back: HearBack | None
    result: Result | None
    info_request: str | None
    may_supply: bool
    may_rate: bool
    may_appeal: bool
    appeal_pending: CustomerAppeal | None
    rating: CustomerRating | None  # their rating of the result shown
    expires_at: datetime | None
    version: int


def stage_of(case: Case) -> Stage:
    return STAGES[STAGE_OF[case.state]]


def result_at(case: Case):
    return case.implemented_at or case.closed_at


def latest_appeal(case_id: int) -> CustomerAppeal | None:
    return db.session.execute(sa.select(CustomerAppeal).where(CustomerAppeal.case_id == case_id)
                              .order_by(CustomerAppeal.id.desc()).limit(1)).scalar_one_or_none()


def latest_rating(case_id: int) -> CustomerRating | None:
    return db.session.execute(sa.select(CustomerRating).where(CustomerRating.case_id == case_id)
                              .order_by(CustomerRating.id.desc()).limit(1)).scalar_one_or_none()


def rating_of_result(case: Case) -> CustomerRating | None:
    """Their rating of the result now shown (a new result after an appeal may be rated again)."""
    rating, at = latest_rating(case.id), result_at(case)
    if rating is None or case.state not in RATABLE_STATES or at is None:
        return None
    return rating if as_utc(rating.created_at) >= as_utc(at) else None


def _deadline(clock: Clock, case: Case, start):
    from portal.sla.due import deadline
    from portal.sla.policy import resolve, work_calendar
    return deadline(resolve(clock, case.klass, case.channel), as_utc(start), work_calendar())


def hear_back(case: Case, appeal: CustomerAppeal | None, now=None) -> HearBack | None:
    """When they will hear from us: the accepted-solution promise (4 h from receipt, or from
    the appeal), then the resolved one (24 h); past both, "as soon as we can"."""
    now = now or utcnow()
    if case.state in (State.CLOSED, State.REJECTED, State.INFO_REQUESTED):
        return None
    if case.state == State.CONFIRMING:
        if case.due_at is not None and as_utc(case.due_at) > now:
            return HearBack(N_("我们将在 %(time)s 前与您联系，确认处理结果。"), case.due_at)
        return HearBack(N_("我们会尽快与您联系，确认处理结果。"), None)
    start = appeal.created_at if appeal is not None else case.received_at
    for clock, text in ((Clock.SOLUTION, N_("我们将在 %(time)s 前与您联系，告知处理方案。")),
                        (Clock.RESOLVED, N_("预计在 %(time)s 前处理完毕。"))):
        at = _deadline(clock, case, start)
        if at is not None and at > now:
            return HearBack(text, at)
    return HearBack(N_("我们会尽快与您联系。"), None)


def result_of(case: Case) -> Result | None:
    if case.state == State.REJECTED:
        return Result(refused=True, reason=case.validity_reason)
    if case.state not in RATABLE_STATES:
        return None
    return Result(refused=False, solution_form=case.solution_form.label if case.solution_form else None,
                  solution=case.solution_text, compensation=case.compensation_summary or None,
                  done_at=case.implemented_at)


def view(case: Case, link) -> CustomerView:
    appeal = latest_appeal(case.id)
    pending = appeal if appeal is not None and case.state not in RESULT_STATES else None
    stage = stage_of(case)
    path = tuple(STAGES[c] for c in PATH)
    rating = rating_of_result(case)
    return CustomerView(
        number=case.number, product=case.product_name, received_at=case.received_at,
        stage=stage, path=path, reached=PATH.index(stage.code) if stage.code in PATH else (
            0 if stage.code == "info" else -1),
        hear_back=hear_back(case, pending), result=result_of(case),
        info_request=case.info_request if case.state == State.INFO_REQUESTED else None,
        may_supply=case.state == State.INFO_REQUESTED,
        may_rate=case.state in RATABLE_STATES and rating is None,
        may_appeal=case.state in APPEALABLE_STATES,
        appeal_pending=pending, rating=rating, expires_at=links.expires_at(case), version=case.version)
