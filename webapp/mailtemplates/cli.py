"""`flask templates ...`: restore default email templates or load one from files, for operators."""
import click
from flask.cli import AppGroup

from webapp import notification_kinds as kinds
from webapp.agencies.service import find_agency
from webapp.mailtemplates.defaults import LANGUAGES, default_template
from webapp.mailtemplates.service import TemplateInvalid, find_template, restore_default, save_template

templates_cli = AppGroup("templates", help="Email templates of notifications.")


def _agency_id(slug: str) -> int:
    agency = find_agency(slug)
    if agency is None:
        raise click.UsageError(f"--agency: no agency '{slug}'")
    return agency.id


@templates_cli.command("reset-defaults")
@click.option("--agency", "agency_slug", required=True, help="Slug of the agency.")
@click.option("--kind", type=click.Choice(kinds.EDITABLE_KINDS), help="Only this kind.")
@click.option("--language", type=click.Choice(LANGUAGES), help="Only this language.")
def reset_defaults(agency_slug, kind, language):
    """Put back the default texts (and create missing templates); enabled states stay."""
    agency_id = _agency_id(agency_slug)
    for each_kind in [kind] if kind else kinds.EDITABLE_KINDS:
        for each_language in [language] if language else LANGUAGES:
            restore_default(agency_id, each_kind, each_language)
            click.echo(f"restored {each_kind}/{each_language}")


@templates_cli.command("set")
@click.argument("kind", type=click.Choice(kinds.EDITABLE_KINDS))
@click.argument("language", type=click.Choice(LANGUAGES))
@click.option("--agency", "agency_slug", required=True, help="Slug of the agency.")
@click.option("--subject", help="The subject template (one line).")
@click.option("--text-file", type=click.File(encoding="utf-8"), help="The text body template.")
@click.option("--html-file", type=click.File(encoding="utf-8"), help="The HTML body template.")
def set_template(kind, language, agency_slug, subject, text_file, html_file):
    """Replace the given parts of a template, checked exactly as the editor checks them."""
    agency_id = _agency_id(agency_slug)
    current = find_template(agency_id, kind, language) or default_template(kind, language)
    sources = {"subject": current.subject if subject is None else subject,
               "body_text": text_file.read() if text_file else current.body_text,
               "body_html": html_file.read() if html_file else current.body_html}
    try:
        save_template(agency_id, kind, language, sources)
    except TemplateInvalid as refused:
        raise click.ClickException(str(refused))
    click.echo(f"saved {kind}/{language}")
