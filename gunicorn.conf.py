"""How gunicorn serves the site, wherever it runs: ./run, the Procfile, the systemd unit and the
web benchmark all start `gunicorn wsgi:app` from this directory, which reads this file."""
import os

# Threads, not processes, hold the test-email and troubleshooting streams (SSE): an open stream
# occupies one thread for under a minute, and streams get at most half of the threads (also 4 a
# user, 8 an agency: webapp/event_streams.py); the rest serve ordinary requests (docs/DEPLOY.md).
worker_class = "gthread"
workers = int(os.environ.get("WEB_PROCESSES", "2"))
threads = int(os.environ.get("WEB_THREADS", "32"))
bind = os.environ.get("WEB_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# On SIGTERM requests in flight finish; open streams end and the browser reconnects.
graceful_timeout = 30
accesslog = "-"
