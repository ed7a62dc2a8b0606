"""Jobs run through a real RQ worker on a real Redis, inside an app context."""
import os

from rq.job import JobStatus

from conftest import ROOT, flask_cli
from jobs_for_tests import rename_agency
from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, QUEUE_NAMES, get_queue
from webapp.models import Agency


def test_flask_worker_burst_runs_queued_jobs_and_exits(app, agency, flask_env):
    job = get_queue(MAIL_QUEUE).enqueue(rename_agency, agency.id, "Renamed by a worker")
    flask_env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])

    result = flask_cli(flask_env, "worker", "--burst")

    assert result.returncode == 0, result.stderr
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    db.session.expire_all()
    assert db.session.get(Agency, agency.id).name == "Renamed by a worker"


def test_the_worker_listens_on_every_queue(app, agency, run_worker):
    jobs = [get_queue(name).enqueue(rename_agency, agency.id, name) for name in QUEUE_NAMES]
    run_worker()
    assert [job.get_status(refresh=True) for job in jobs] == [JobStatus.FINISHED] * len(jobs)
