"""`berth serve`: migrate, then run gunicorn, a Celery worker, the periodic
scheduler and the audit writer together, and stop them together (the audit writer
last, so that it writes what the others spooled before they stopped)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# client, request line, status, response bytes (Content-Length: sendfile bypasses gunicorn's byte count), duration in ms.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %({content-length}o)s %(M)sms'


def gunicorn_command(*, bind: str, workers: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "registry_project.wsgi:application",
        "--bind", bind,
        # gthread, with each request read in the event loop before a thread takes it:
        # slow clients do not hold the threads
        "--worker-class", "registry_project.gunicorn_worker.BufferingThreadWorker",
        "--workers", str(workers),
        "--threads", str(threads),
        "--timeout", "120",
        "--keep-alive", "30",
        "--access-logfile", "-",
        "--access-logformat", ACCESS_LOG_FORMAT,
        "--error-logfile", "-",
        # gunicorn's default control socket is one path per user: several servers
        # on a host would share it.
        "--no-control-socket",
        # server hooks: a worker writes its buffered audit events before it exits
        "--config", "python:apps.audit.gunicorn_hooks",
    ]


def celery_command(*, role: str) -> list[str]:
    base = [sys.executable, "-m", "celery", "-A", "registry_project"]
    if role == "beat":
        return base + ["beat", "--loglevel", "INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
    return base + ["worker", "--loglevel", "INFO", "--concurrency", str(settings.BERTH_WORKER_CONCURRENCY)]


def audit_writer_command() -> list[str]:
    return [sys.executable, "-m", "django", "audit_writer", "--settings", os.environ["DJANGO_SETTINGS_MODULE"]]


def run_together(commands: dict[str, list[str]], stdout, *, last: tuple[str, ...] = ()) -> int:
    """Start every command; when one exits or we are signalled, stop them all
    (the ones named in ``last`` once the others have exited)."""
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command)
            stdout.write(f"started {name} (pid {children[name].pid})\n")
            stdout.flush()
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    stdout.write(f"{name} exited with {code}; stopping the others\n")
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.2)
        return exit_code
    finally:
        first = [child for name, child in children.items() if name not in last]
        _stop(first)
        _stop([child for name, child in children.items() if name in last])
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(children: list[subprocess.Popen], grace: float = 20) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Command(BaseCommand):
    help = "Apply migrations and serve the registry (web server, worker and scheduler)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BERTH_BIND", "127.0.0.1:5000"))
        parser.add_argument("--workers", type=int, default=settings.BERTH_WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.BERTH_WEB_THREADS)
        parser.add_argument("--no-worker", action="store_true", help="serve HTTP only (workers run elsewhere)")

    def handle(self, *args, bind, workers, threads, no_worker, **options):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        # Web processes only spool their pull events; one process writes them to the trail.
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
        audit_writer = os.environ.setdefault("BERTH_AUDIT_WRITER", "process") == "process"
        commands = {"web": gunicorn_command(bind=bind, workers=workers, threads=threads)}
        if not no_worker:
            commands["worker"] = celery_command(role="worker")
            commands["beat"] = celery_command(role="beat")
        if audit_writer:
            commands["audit"] = audit_writer_command()
        self.stdout.write(f"Berth serving on http://{bind} (data in {settings.DATA_DIR})")
        self.stdout.flush()
        raise SystemExit(run_together(commands, self.stdout, last=("audit",)))
