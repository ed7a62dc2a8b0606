"""`flask mail configure` and `flask mail rotate-keys`: the settings page's rules, from scripts."""
import os

import click
from flask import current_app
from flask_babel import force_locale

from webapp.agencies.service import find_agency
from webapp.cli import mail_cli
from webapp.mailsettings import service
from webapp.mailsettings.forms import cli_form

# Options are plain strings on purpose: the form, not click, judges them, with the page's messages.
OPTIONS = (
    ("--host", "host"), ("--port", "port"), ("--security", "security"), ("--login", "login"),
    ("--sender-address", "sender_address"), ("--sender-name", "sender_name"),
    ("--agency-email", "agency_email"), ("--copies-email", "copies_email"),
    ("--payment-problems-email", "payment_problems_email"),
    ("--order-change-emails", "order_change_emails"),
    ("--unconfirmed-expiry-minutes", "unconfirmed_expiry_minutes"),
    ("--data-deadline-hours", "data_deadline_hours"),
    ("--warn-from", "warn_from_minutes"), ("--warn-to", "warn_to_minutes"),
)


def _with_setting_options(command):
    for flag, name in reversed(OPTIONS):
        command = click.option(flag, name, default=None, help=f"Field `{name}`; \"\" clears it.")(command)
    return command


@mail_cli.command("configure")
@click.option("--agency", "agency_slug", required=True, help="Slug of the agency.")
@_with_setting_options
@click.option("--password-env", default=None,
              help="Name of the environment variable holding the SMTP password (never a flag value).")
@click.option("--remove-password", is_flag=True, help="Forget the stored SMTP password.")
@click.option("--lang", type=click.Choice(["ru", "en"]), default=None,
              help="Language of the messages (default: the site's).")
def configure(agency_slug, password_env, remove_password, lang, **options):
    """Change an agency's mail settings with the page's validation; nothing is saved on any error."""
    agency = find_agency(agency_slug)
    if agency is None:
        raise click.UsageError(f"--agency: no agency '{agency_slug}'")
    if password_env is not None:
        options["password"] = os.environ.get(password_env)
        if not options["password"]:
            raise click.UsageError(f"--password-env: the variable {password_env} is empty or unset")
    if remove_password:
        options["remove_password"] = "y"
    with force_locale(lang or current_app.config["BABEL_DEFAULT_LOCALE"]):
        saved = service.settings_view(agency)
        form = cli_form(options, saved.values(), saved)
        if not form.validate():
            for _name, message in form.all_errors():
                click.echo(f"error: {message}", err=True)
            raise SystemExit(2)
        for name in options:
            for message in form.warnings_for(name) if name in form else ():
                click.echo(f"warning: {message}", err=True)
    changed = service.save_settings(agency, form.values(), new_password=form.password.data or None,
                                    remove_password=form.remove_password.data)
    click.echo(f"{agency.slug}: " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))


@mail_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt stored SMTP passwords under the first MAIL_SECRET_KEYS key (then retire old keys)."""
    rotated, unreadable = service.rotate_passwords()
    from webapp.bounces.service import rotate_passwords as rotate_incoming_passwords
    incoming_rotated, incoming_unreadable = rotate_incoming_passwords()  # the IMAP ones too
    rotated, unreadable = rotated + incoming_rotated, unreadable + incoming_unreadable
    click.echo(f"re-encrypted {rotated} password(s) under the first key")
    if unreadable:
        click.echo("no configured key decrypts the password of: " + ", ".join(unreadable)
                   + " (left unchanged: keep the old key until they are re-entered)", err=True)
        raise SystemExit(1)
