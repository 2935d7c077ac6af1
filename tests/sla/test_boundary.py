"""Time limits are a domain of their own: portal.sla and the step keys load without the case
workflow, so the arithmetic stays pure and the case package may depend on it, not the reverse."""
import subprocess
import sys

from tests.conftest import ROOT


def test_time_limit_modules_do_not_import_the_cases_package():
    code = ("import sys, portal.steps, portal.sla.due, portal.sla.policy, portal.sla.pauses, "
            "portal.sla.models, portal.sla.seed, portal.sla.operations\n"
            "print(sorted(m for m in sys.modules if m.startswith('portal.cases')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_step_is_the_same_enum_from_both_places():
    from portal.cases.states import Step as FromStates
    from portal.steps import Step
    assert FromStates is Step and Step.VERIFY.value == "verify"
