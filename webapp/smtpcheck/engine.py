"""The test email: one recorded SMTP dialogue to the agency's own address, ending in a hint on failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from webapp.smtpcheck.connection import Envelope, SmtpError, SmtpSettings, Step, open_session
from webapp.smtpcheck.hints import Hint
from webapp.smtpcheck.message import build_test_message, envelope_sender, settings_for_test_email

__all__ = ["SmtpSettings", "Step", "TestResult", "run_test"]


@dataclass
class TestResult:
    """The steps of one test run, and where and why it failed."""

    __test__ = False  # not a pytest test class, despite the name

    ok: bool
    steps: list[Step]
    failed_step: str | None
    hint: Hint | None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "failed_step": self.failed_step,
            "hint": self.hint.as_dict() if self.hint else None,
            "steps": [step.as_dict() for step in self.steps],
        }


def run_test(
    settings: SmtpSettings,
    to_address: str,
    *,
    language: str = "ru",
    on_step: Callable[[Step], None] | None = None,
    message: EmailMessage | None = None,
) -> TestResult:
    """Send the test email step by step; network and SMTP failures end up in the result, not raised.

    `message` is the agency's own test email; without it, the built-in one in `language`."""
    steps: list[Step] = []

    def record(step: Step) -> None:
        steps.append(step)
        if on_step is not None:
            on_step(step)

    settings = settings_for_test_email(settings, to_address)
    message = message or build_test_message(settings, to_address, language)
    try:
        with open_session(settings, on_step=record) as session:
            session.send(Envelope(message, envelope_sender(settings), [to_address]))
    except SmtpError as error:
        return TestResult(ok=False, steps=steps, failed_step=error.step, hint=error.hint)
    return TestResult(ok=True, steps=steps, failed_step=None, hint=None)
