"""`flask mail read-bounces`: read an agency's bounces now, as the periodic job does."""
import click

from webapp.agencies.service import find_agency
from webapp.bounces.service import read_bounces
from webapp.cli import mail_cli


@mail_cli.command("read-bounces")
@click.option("--agency", "agency_slug", required=True, help="The agency's slug.")
@click.option("--max-messages", type=click.IntRange(1, 100_000), default=None,
              help="At most this many new messages (default BOUNCES_MAX_MESSAGES).")
def read_bounces_command(agency_slug, max_messages):
    """Read new messages of the agency's incoming mailbox and record the bounces (exit 1 if the
    mailbox could not be read, 2 if reading is off or the agency is unknown)."""
    agency = find_agency(agency_slug)
    if agency is None:
        raise click.UsageError(f"no agency {agency_slug!r}")
    result = read_bounces(agency.id, max_messages=max_messages)
    if result.skipped.startswith("off"):
        click.echo(f"reading bounces is off or incomplete for {agency_slug}: {result.skipped[5:]}", err=True)
        raise SystemExit(2)
    if result.skipped:
        click.echo(f"could not read the mailbox: {result.skipped}", err=True)
        raise SystemExit(1)
    click.echo(f"read {result.read}, bounces recorded {result.bounces}, auto-replies {result.auto_replies}, "
               f"unmatched {result.unmatched}, left for the next run {result.left}")
