"""Periodic jobs, for `rq cron webapp.cron`: run exactly one such process per installation."""
from rq import cron

from webapp.jobs import DEFAULT_QUEUE, sweep_outbox
from webapp.jobs import schedule_tick
from webapp.schedule.due import TICK_INTERVAL

# rq cron only enqueues and has no lock between instances; the sweep is idempotent, so a second
# scheduler started by mistake costs a few Redis calls, never a duplicate email.
cron.register(sweep_outbox, queue_name=DEFAULT_QUEUE, interval=30)

# S4-S6: every rule is idempotent (compare-and-set claims, outbox dedupe keys), so the tick
# enqueued at start and a second scheduler produce nothing twice; a missed tick is caught up.
cron.register(schedule_tick, queue_name=DEFAULT_QUEUE,
              interval=int(TICK_INTERVAL.total_seconds()), job_timeout=600)
