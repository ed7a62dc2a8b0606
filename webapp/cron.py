"""Periodic jobs, for `rq cron webapp.cron`: run exactly one such process per installation."""
from rq import cron

from webapp.jobs import DEFAULT_QUEUE, queue_bounce_readings, schedule_tick
from webapp.schedule.due import TICK_INTERVAL

# One tick runs every rule: S4-S6 and the outbox sweep (due retries, rows of crashed workers).
# rq cron only enqueues and has no lock between instances; every rule is idempotent
# (compare-and-set claims, outbox dedupe keys), so the tick enqueued at start and a second
# scheduler started by mistake produce nothing twice, and a missed tick is caught up.
cron.register(schedule_tick, queue_name=DEFAULT_QUEUE,
              interval=int(TICK_INTERVAL.total_seconds()), job_timeout=600)

# Bounces (webapp/bounces/): every five minutes, one reading job per agency that turned it on;
# each run is limited (messages, seconds) and records a bounce once whoever else runs.
cron.register(queue_bounce_readings, queue_name=DEFAULT_QUEUE, interval=300, job_timeout=60)
