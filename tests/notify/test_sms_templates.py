"""Every SMS template fits its segments (one of 70 characters; the customer's acknowledgement,
which carries their link, two of 67) with the provider's signature, even with the longest
values it can be given."""
import re

import pytest

from portal.notify.templates import FIELDS, SEGMENT, SIGNATURE_RESERVE, TEMPLATES, sms_text
from portal.steps import Clock, Step

SIGNATURE = "【示例食品股份有限】"  # the longest sign name the reserve allows: 8 characters


def worst_values(fields, extra=0) -> dict:
    # "国" is as wide as any character in UCS-2; `extra` goes beyond the longest allowed.
    return {field: "国" * (FIELDS[field] + extra) for field in fields}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_with_longest_values_fits_its_segments(app, name):
    text = sms_text(name, **worst_values(TEMPLATES[name].fields))

    assert len(SIGNATURE) == SIGNATURE_RESERVE
    assert len(SIGNATURE + text) <= TEMPLATES[name].capacity, (len(SIGNATURE + text), text)
    assert TEMPLATES[name].segments == 1 or name == "customer_ack"
    assert "%(" not in text and "国" in text


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_values_longer_than_allowed_are_cut_not_spilled(app, name):
    text = sms_text(name, **worst_values(TEMPLATES[name].fields, extra=30))

    assert len(SIGNATURE + text) <= TEMPLATES[name].capacity
    assert "…" in text


def test_every_step_and_clock_label_fits_its_field(app):
    longest = max(len(s.label) for s in [*Step, *Clock])
    assert longest <= FIELDS["step"]


def test_step_notice_reads_as_the_desk_would_write_it(app):
    text = sms_text("step", number="KS2026-000123", step=Step.APPROVE.label, due="03-02 09:41")

    assert text == "投诉KS2026-000123待您领导批示，时限03-02 09:41，请登录客诉系统办理。"


def test_reminder_shows_the_share_of_the_limit_used(app):
    text = sms_text("reminder", number="KS2026-000123", step=Step.INVESTIGATE.label, percent=80,
                    due="03-02 13:41")

    assert re.search(r"已用时限80%，将于03-02 13:41到期", text)


def test_a_missing_value_is_an_error_not_a_gap(app):
    with pytest.raises(KeyError, match="reply_by"):
        sms_text("customer_ack", number="KS2026-000123")
