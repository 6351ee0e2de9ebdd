"""gunicorn settings for Stride: `gunicorn -c gunicorn.conf.py 'server:create_app()'` (`make serve`).

Every value can be changed from the environment, so one file serves one box and many:

- ``PORT`` (5000) and ``HOST`` (127.0.0.1): where to listen. Keep 127.0.0.1 behind nginx on the
  same box; use ``HOST=0.0.0.0`` (or a private address) when nginx runs on another host.
- ``WEB_CONCURRENCY``: worker processes (default 2 x cores + 1, at most 8).
- ``GUNICORN_THREADS``: threads per worker (gthread). Default 1 on SQLite and 4 when
  ``DATABASE_URL`` is PostgreSQL (benchmarks/web.py, see docs/benchmarks.md): on SQLite a request
  is Python work plus a local write, so a worker's threads mostly wait for each other's GIL (and a
  thread holding the write lock waits for the GIL too); on PostgreSQL each request also waits on
  the network and the server's commit, which other threads can use.
- ``GUNICORN_TIMEOUT`` (30 s): a worker silent this long is killed and replaced.
- ``FORWARDED_ALLOW_IPS`` (127.0.0.1): proxies trusted for X-Forwarded-Proto/For (nginx's address).
- ``GUNICORN_ACCESSLOG``: ``-`` logs requests to stdout; unset logs none.

Cookies are Secure by default (the app runs as production under gunicorn): serve through HTTPS,
or set ``COOKIE_SECURE = False`` in instance/config.py for a plain-HTTP trial on a private network.
Code grading: each worker process has its own in-process grading pool unless ``REDIS_URL`` is
set, in which case submissions go to the Redis queue and ``python -m web.code.worker`` grades them.
See docs/deploy.md.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(8, 2 * multiprocessing.cpu_count() + 1)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS")
              or (4 if os.environ.get("DATABASE_URL", "").startswith("postgres") else 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30  # lets in-process grading jobs finish on a restart
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
limit_request_line = 8190
limit_request_fields = 100
proc_name = "stride"
# No runtime control socket: it defaults to one path per user (~/.gunicorn/gunicorn.ctl), which
# several servers on one box (tests, benchmarks, staging) would fight over.
control_socket_disable = True


def on_starting(server):
    """Files the server creates (the SQLite database, its WAL/SHM, the write lock) are private:
    0600. gunicorn's own `umask` setting covers only its sockets, so set the master's umask here,
    before it forks the workers (they inherit it); not on import, which tests also do."""
    os.umask(0o077)


def post_worker_init(worker):
    """Load Stride's problem bank, freeze the loaded objects out of the GC (server.warm_up), and
    start the grading pool's monitor thread."""
    import gc

    from flask import Flask

    if isinstance(worker.wsgi, Flask) and "stride_engine" in worker.wsgi.extensions:
        from server import warm_up

        warm_up(worker.wsgi)
        # The in-process grading pool's monitor: heartbeats this worker's jobs and, within
        # seconds, requeues jobs of a worker that was killed (no restart needed).
        pool = worker.wsgi.extensions.get("stride_pool")
        if hasattr(pool, "start_monitor"):
            pool.start_monitor()
    else:  # another app on this config (the web benchmark's floor): freeze what it loaded
        gc.collect()
        gc.freeze()
