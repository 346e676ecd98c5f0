"""gunicorn server hooks (`berth serve`'s gunicorn reads them through
registry_project/gunicorn_config.py): a worker that exits closes its audit spool file and, when
it ingests the spool itself (BERTH_AUDIT_WRITER=thread), writes what is spooled,
so a graceful restart leaves nothing waiting."""

import sys


def worker_exit(server, worker) -> None:
    recorder = sys.modules.get("apps.audit.recorder")
    if recorder is not None:  # a worker that never imported it spooled nothing
        recorder.recorder.flush_quietly()
