"""Gunicorn settings for the web container (`gunicorn -c deploy/gunicorn.conf.py config.wsgi:application`).

Everything tunable comes from the environment so that one image fits a laptop and a cluster node.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Sync workers with a few threads: Django views are blocking; threads absorb slow clients and I/O waits.
# Default: 2 x cores + 1, capped so that each pod keeps its PostgreSQL connection count predictable
# (connections = workers x threads, and every connection caches catalog entries of the schemas it touched).
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that slow leaks (and per-connection catalog caches) stay bounded.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# The container is reachable only through nginx / the ingress, which set X-Forwarded-Proto; narrow this to
# the proxy's address range where the network is shared.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the app before forking: less memory per worker, and configuration errors fail the container fast.
preload_app = True
