"""gunicorn server hooks (`gunicorn --config python:apps.audit.gunicorn_hooks`, as
`berth serve` runs it): a worker writes the audit events it still holds before it
exits, so a graceful restart loses none."""
import sys


def worker_exit(server, worker) -> None:
    recorder = sys.modules.get("apps.audit.recorder")
    if recorder is not None:  # a worker that never imported it buffered nothing
        recorder.recorder.flush_quietly()
