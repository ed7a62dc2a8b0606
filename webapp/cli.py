"""Command-line interface: agencies, users, the RQ worker, the mail catcher, the demo data."""
import os
import secrets
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from rq.worker_pool import WorkerPool

from webapp.agencies.service import AgencyError, create_agency, find_agency
from webapp.api.service import issue_token
from webapp.auth.service import StaffError, create_user
from webapp.extensions import db
from webapp.health.service import redis_warnings
from webapp.jobs import QUEUE_NAMES, MailWorker, all_queues, redis_connection

agencies_cli = AppGroup("agencies", help="Create and manage agencies.")
users_cli = AppGroup("users", help="Create staff accounts.")
# Capabilities attach their commands here: `flask mail configure`, `flask mail test`, ...
mail_cli = AppGroup("mail", help="Mail settings and test emails.")


def register(app: Flask) -> None:
    import webapp.mailsettings.cli  # noqa: F401  (attaches `configure` and `rotate-keys` to mail_cli)
    import webapp.smtpcheck.cli  # noqa: F401  (attaches `test` to mail_cli)
    import webapp.bounces.cli  # noqa: F401  (attaches `read-bounces` to mail_cli)
    for group in (agencies_cli, users_cli, mail_cli):
        app.cli.add_command(group)
    from webapp.mailtemplates.cli import templates_cli
    from webapp.schedule.cli import schedule_cli
    app.cli.add_command(schedule_cli)
    app.cli.add_command(templates_cli)
    for command in (worker_command, catcher_command, demo_command, demo_booking_command):
        app.cli.add_command(command)


@agencies_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The agency's display name.")
@click.option("--email", default=None, help="The agency's own email address.")
def agencies_create(slug, name, email):
    try:
        agency = create_agency(slug, name, email)
    except AgencyError as exc:
        raise click.UsageError(str(exc))
    click.echo(f"created agency {agency.slug} (id {agency.id})")


@agencies_cli.command("token")
@click.argument("slug")
def agencies_token(slug):
    """Print a new API token for the booking engine; the agency's old token stops working."""
    agency = find_agency(slug)
    if agency is None:
        raise click.UsageError(f"SLUG: no agency '{slug}'")
    click.echo(issue_token(agency.id))
    click.echo(f"the previous token of {agency.slug}, if any, no longer works", err=True)


@users_cli.command("create")
@click.argument("email")
@click.option("--agency", "agency_slug", required=True, help="Slug of the user's agency.")
@click.option("--admin", is_flag=True, help="May edit the agency's mail settings.")
@click.option("--password-env", required=True,
              help="Name of the environment variable holding the password (never a flag value).")
@click.option("--name", default="", help="Display name.")
def users_create(email, agency_slug, admin, password_env, name):
    agency = find_agency(agency_slug)
    if agency is None:
        raise click.UsageError(f"--agency: no agency '{agency_slug}'")
    password = os.environ.get(password_env)
    if not password:
        raise click.UsageError(f"--password-env: the variable {password_env} is empty or unset")
    try:
        user = create_user(agency, email, password, is_admin=admin, name=name)
    except StaffError as exc:
        raise click.UsageError(str(exc))
    click.echo(f"created {'admin' if user.is_admin else 'user'} {user.email} in {agency.slug}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option("--pool", "processes", default=1, type=click.IntRange(min=1),
              help="Worker processes to run; one per core is a good start.")
def worker_command(burst, processes):
    """Run RQ workers on every queue, with RQ's scheduler for delayed jobs and retries.

    SIGTERM or Ctrl-C is a warm shutdown: each worker finishes the batch it is sending.
    """
    for warning in redis_warnings():
        click.echo(f"warning: Redis has {warning['setting']} {warning['value']!r}, queued jobs can"
                   f" be lost: set {warning['setting']} {warning['expected']}", err=True)
    # SimpleWorker runs jobs in this process with this app: ~5x the throughput of forking.
    if processes == 1:
        MailWorker(all_queues(), connection=redis_connection()).work(burst=burst,
                                                                     with_scheduler=True)
        return
    # The pool forks its workers from this process: each must open database connections of its
    # own, never share the parent's sockets.
    engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    WorkerPool(QUEUE_NAMES, connection=redis_connection(), num_workers=processes,
               worker_class=MailWorker).start(burst=burst)


@click.command("catcher")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=1025, type=int)
def catcher_command(host, port):
    """Run the development mail catcher; caught mail shows at /dev/mail."""
    from webapp.catcher.service import start_catcher
    directory = current_app.config["MAIL_CATCHER_DIR"] or os.path.join(
        current_app.instance_path, "mailcatcher")
    controller = start_catcher(directory, host, port)
    click.echo(f"mail catcher on {host}:{port}, storing into {directory}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@click.command("demo")
@click.option("--catcher-port", default=1025, type=int)
def demo_command(catcher_port):
    """Create the demo agency and its admin (once); print how to sign in."""
    from webapp.config import instance_secret
    from webapp.demo import ensure_demo
    password = instance_secret(current_app.instance_path, "demo_admin_password",
                               lambda: secrets.token_urlsafe(9))
    email = ensure_demo(catcher_port, password)
    click.echo(f"demo agency ready: sign in as {email} with the password {password}")


@click.command("demo-booking")
@click.option("--agency", "slug", default="demo", help="The agency's slug (default: the demo's).")
@click.option("--language", type=click.Choice(["ru", "en"]), default="ru",
              help="The client's language.")
def demo_booking_command(slug, language):
    """Post a demo booking's events: created, issued with a PDF, cancelled; read its emails at
    /dev/mail once the worker has sent them."""
    from webapp.demo import post_demo_booking
    agency = find_agency(slug)
    if agency is None:
        raise click.UsageError(f"--agency: no agency '{slug}'")
    number = post_demo_booking(agency, language=language)
    click.echo(f"order {number}: booked, issued with its itinerary receipt (PDF), cancelled; "
               f"its emails are queued")
