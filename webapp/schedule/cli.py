"""`flask schedule tick` and `flask schedule status`: the periodic rules for operators."""
import click
from flask.cli import AppGroup

from webapp.schedule import service

schedule_cli = AppGroup("schedule", help="The periodic rules (registration expiry, time-limit "
                                         "warnings, data deadlines, outbox sweep).")


@schedule_cli.command("tick")
def tick_command():
    """Run every rule once, now: the same idempotent code `rq cron` runs every minute."""
    for name, produced in service.tick().items():
        click.echo(f"{name}: {produced}")


@schedule_cli.command("status")
def status_command():
    """Each rule's last tick, its duration, what it produced, and its next run."""
    for rule in service.status():
        if rule.last_tick is None:
            click.echo(f"{rule.name}: never run")
            continue
        click.echo(f"{rule.name}: last tick {rule.last_tick.isoformat(timespec='seconds')}, "
                   f"{rule.duration_ms} ms, produced {rule.produced}, "
                   f"next run {rule.next_run.isoformat(timespec='seconds')}"
                   + (f", error: {rule.error}" if rule.error else ""))
