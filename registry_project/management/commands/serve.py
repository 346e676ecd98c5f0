"""`berth serve`: migrate, then run gunicorn, a Celery worker, the periodic
scheduler and the audit writer together, and stop them together (the audit writer
last, so that it writes what the others spooled before they stopped)."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from registry_project import instruments
from registry_project.hosts import bind_warning
from registry_project.logs import JsonLines

logger = logging.getLogger(__name__)

# client, request line, status, response bytes (Content-Length: sendfile bypasses gunicorn's byte count), duration in ms.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %({content-length}o)s %(M)sms'


def gunicorn_command(*, bind: str, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "registry_project.wsgi:application",
        "--bind",
        bind,
        # gthread, with each request read in the event loop before a thread takes it:
        # slow clients do not hold the threads
        "--worker-class",
        "registry_project.gunicorn_worker.BufferingThreadWorker",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--keep-alive",
        "30",
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--error-logfile",
        "-",
        # gunicorn's default control socket is one path per user: several servers
        # on a host would share it.
        "--no-control-socket",
        # Only Berth decides which proxy may report the scheme (BERTH_TRUSTED_PROXIES,
        # registry_project.proxies); gunicorn would believe any client on 127.0.0.1.
        "--forwarded-allow-ips",
        "",
        # server hooks (a worker writes its buffered audit events before it exits, and
        # leaves the metrics' sum), JSON logs with BERTH_LOG_FORMAT=json
        "--config",
        "python:registry_project.gunicorn_config",
    ]


def celery_command(*, role: str) -> list[str]:
    base = [sys.executable, "-m", "celery", "-A", "registry_project"]
    if settings.BERTH_LOG_FORMAT == "json":
        base.append("--quiet")  # no banner: every line is a JSON log line
    if role == "beat":
        return base + ["beat", "--loglevel", "INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
    return base + ["worker", "--loglevel", "INFO", "--concurrency", str(settings.BERTH_WORKER_CONCURRENCY)]


def fresh_metrics_dir(name: str) -> str:
    """An empty directory for the multiprocess metrics of the processes about to
    start (a previous run's counts are gone with its processes), named in
    PROMETHEUS_MULTIPROC_DIR for them to inherit."""
    directory = settings.BERTH_METRICS_DIR / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.environ[instruments.MULTIPROC_VARIABLE] = str(directory)
    return str(directory)


def audit_writer_command() -> list[str]:
    return [sys.executable, "-m", "django", "audit_writer", "--settings", os.environ["DJANGO_SETTINGS_MODULE"]]


# The order `serve` stops its children in: the web server first (no new work comes
# in), then the worker and the scheduler, the audit writer last (it writes what the
# others spooled before they stopped).
STOP_ORDER = (("web",), ("worker", "beat"), ("audit",))
# Signals that stop `serve` in order. A terminal's Ctrl-C (SIGINT) and hang-up
# (SIGHUP) reach only `serve`: each child runs in a process group of its own,
# outside the terminal's foreground group.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _child_setup(parent_pid: int):
    """Run in each child between fork and exec: the kernel sends it SIGTERM when
    `serve` dies, however it dies (SIGKILL included), so no child outlives it."""

    def setup() -> None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # `serve` died before the request took effect
            os._exit(1)

    return setup


def start_child(command: list[str]) -> subprocess.Popen:
    """Start ``command`` as the leader of a new process group, which then holds
    its own children too (gunicorn's workers, Celery's pool processes)."""
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, process_group=0, preexec_fn=_child_setup(os.getpid()))


def run_together(commands: dict[str, list[str]], stdout, *, grace: float, stop_order=STOP_ORDER) -> int:
    """Start every command; when one exits or we are signalled, stop them all,
    stage by stage in ``stop_order`` (names it leaves out stop first), each stage
    within ``grace`` seconds."""
    children: dict[str, subprocess.Popen] = {}
    received: list[int] = []  # written to stdout by the loop: a handler may interrupt a write

    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in STOP_SIGNALS}
    try:
        for name, command in commands.items():
            children[name] = start_child(command)
            stdout.write(f"started {name} (pid {children[name].pid})\n")
            stdout.flush()
        exit_code = 0
        while not received and not exit_code:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    stdout.write(f"{name} exited with {code}; stopping the others\n")
                    exit_code = code or 1
                    break
            time.sleep(0.2)
        if received:
            stdout.write(f"received {signal.Signals(received[0]).name}: stopping\n")
        return exit_code
    finally:
        ordered = [name for stage in stop_order for name in stage]
        stages = [[name for name in children if name not in ordered], *stop_order]
        for stage in stages:
            _stop({name: children[name] for name in stage if name in children}, stdout, grace=grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(children: dict[str, subprocess.Popen], stdout, *, grace: float) -> None:
    """SIGTERM each child; kill the process group of any that is not gone within
    ``grace`` seconds, and of every child, what it left behind."""
    for name, child in children.items():
        if child.poll() is None:
            stdout.write(f"stopping {name} (pid {child.pid})\n")
            child.send_signal(signal.SIGTERM)
    stdout.flush()
    deadline = time.monotonic() + grace
    for name, child in children.items():
        try:
            code = child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(child.pid)
            code = child.wait()
            stdout.write(f"{name} (pid {child.pid}) did not stop within {grace:g}s: killed its process group\n")
        else:
            # A child that exited may leave processes behind in its group (a worker
            # its arbiter no longer waits for, holding the port): they go with it.
            if _kill_group(child.pid):
                stdout.write(f"{name} (pid {child.pid}) left processes behind: killed its process group\n")
        stdout.write(f"stopped {name} (pid {child.pid}, exit code {code})\n")
        stdout.flush()


def _kill_group(pgid: int) -> bool:
    """SIGKILL the process group ``pgid``; whether any process was left in it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


class Command(BaseCommand):
    help = "Apply migrations and serve the registry (web server, worker and scheduler)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BERTH_BIND", "127.0.0.1:5000"))
        parser.add_argument("--workers", type=int, default=settings.BERTH_WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.BERTH_WEB_THREADS)
        parser.add_argument("--no-worker", action="store_true", help="serve HTTP only (workers run elsewhere)")

    def handle(self, *args, bind, workers, threads, no_worker, **options):
        warning = bind_warning(
            bind, configured=os.environ.get("ALLOWED_HOSTS", ""), public_url=settings.BERTH_PUBLIC_URL
        )
        if warning:
            logger.warning(warning)
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
        fresh_metrics_dir("serve")
        # serve's own listener has every process's counters: the worker it starts runs none
        metrics_bind = os.environ.pop("BERTH_METRICS_BIND", "") and settings.BERTH_METRICS_BIND
        listener = None
        if metrics_bind:
            # late: this module's command lines are imported without the apps (bench/pull_instructions.py)
            from registry_project.ops import start_listener

            listener = start_listener(metrics_bind)
        stdout = JsonLines(self.stdout, "berth.serve") if settings.BERTH_LOG_FORMAT == "json" else self.stdout
        stdout.write(f"Berth serving on http://{bind} (data in {settings.DATA_DIR})\n")
        if listener is not None:
            stdout.write(f"metrics on http://{metrics_bind}/metrics\n")
        stdout.flush()
        try:
            code = run_together(commands, stdout, grace=settings.BERTH_STOP_GRACE_SECONDS)
        finally:
            if listener is not None:
                listener.shutdown()
        raise SystemExit(code)
