"""`flask mail test`: the test email from a shell, for operators and scripts."""
import dataclasses
import json
import os

import click
from flask import current_app

from webapp.agencies.service import find_agency
from webapp.cli import mail_cli
from webapp.mailsettings.service import MailNotConfigured, smtp_settings_for
from webapp.smtpcheck.connection import SECURITY_CHOICES, SmtpSettings
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.steps import STEP_TITLES


@mail_cli.command("test")
@click.option("--host", help="SMTP server.")
@click.option("--port", type=click.IntRange(1, 65535), help="SMTP port.")
@click.option("--security", type=click.Choice(SECURITY_CHOICES), help="none, starttls or tls.")
@click.option("--to", "to_address", help="Recipient (default: the agency's email with --agency).")
@click.option("--login", help="SMTP login.")
@click.option("--password-env", help="Environment variable holding the SMTP password.")
@click.option("--sender-address", help="Sender address (From).")
@click.option("--sender-name", help="Sender name (From).")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=15.0, show_default=True,
              help="Seconds to wait for each step.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
              help="Extra CA certificates (PEM) to trust besides the system store.")
@click.option("--agency", "agency_slug", help="Start from this agency's saved settings.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def mail_test(host, port, security, to_address, login, password_env, sender_address,
              sender_name, timeout, ca_file, agency_slug, as_json):
    """Send a test email step by step; exit 0 when accepted, 1 when a step failed, 2 on bad arguments."""
    values, agency_email = _saved_values(agency_slug)
    overrides = {name: value for name, value in dict(
        host=host, port=port, security=security, login=login, sender_address=sender_address,
        sender_name=sender_name, ca_file=ca_file).items() if value is not None}
    values.update(overrides)
    if password_env:
        if password_env not in os.environ:
            raise click.BadParameter(f"the variable {password_env} is not set", param_hint="--password-env")
        values["password"] = os.environ[password_env]
    for name in ("host", "port", "security"):
        if not values.get(name):
            raise click.UsageError(f"--{name} is required (or --agency with saved settings)")
    to_address = to_address or agency_email
    if not to_address:
        raise click.UsageError("--to is required (or --agency with an agency email)")
    settings = SmtpSettings(**values, timeout=timeout)

    result = run_test(settings, to_address, language="en" if as_json else "ru",
                      on_step=None if as_json else _print_step)
    # The agency's saved settings just worked: a pause of its sending is over, as after a test
    # from the settings page. Flags that changed them prove nothing about what is saved.
    if result.ok and agency_slug and not overrides and not password_env:
        from webapp.outbox.sender import resume
        if resume(find_agency(agency_slug).id) and not as_json:
            click.echo("sending of the agency's notifications resumed")
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    elif result.hint:
        click.echo(f"\n{result.hint.title}\n{result.hint.detail}\n{result.hint.fix}")
        if result.hint.field:
            click.echo(f"field: {result.hint.field}")
    else:
        click.echo(f"\naccepted: the test email to {to_address} was sent")
    raise SystemExit(0 if result.ok else 1)


def _saved_values(agency_slug: str | None) -> tuple[dict, str]:
    """This installation's defaults, then the agency's saved settings when one is named."""
    config = current_app.config
    values = {"ehlo_name": config["MAIL_EHLO_NAME"], "allow_private": config["MAIL_ALLOW_PRIVATE_HOSTS"]}
    if agency_slug is None:
        return values, ""
    agency = find_agency(agency_slug)
    if agency is None:
        raise click.BadParameter(f"no agency '{agency_slug}'", param_hint="--agency")
    try:
        values |= dataclasses.asdict(smtp_settings_for(agency.id))
    except MailNotConfigured:
        pass  # the flags must then give the server
    values.pop("timeout", None)
    return values, agency.email or ""


def _print_step(step) -> None:
    mark = "✓" if step.ok else "✗"
    click.echo(f"{mark} {STEP_TITLES.get(step.step, step.step)}: {step.code or ''} {step.reply} ({step.ms} ms)")
