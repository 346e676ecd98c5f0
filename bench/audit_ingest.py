"""What one spooled pull event costs the web process (turning it into its spool
line) and the audit writer (reading the line and appending the row to the trail),
in CPU time, in one process with nothing else running.

    python bench/audit_ingest.py --events 20000 --passes 4
    python bench/audit_ingest.py --database-url postgresql://postgres@127.0.0.1:5432/ingest_bench

Each pass spools --events manifest pulls (BatchGetImage events as a manifest GET
records them, from a few principals), with fresh ids and the current time, and
ingests them as `berth audit_writer` does (with its SQLite page cache); the trail
grows pass by pass. SQLite in a
temporary data directory unless --database-url names a database (one of its own: the
script migrates it and writes to it). For PostgreSQL the server's own CPU is not
counted. Not part of the test suite (see bench/README.md)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pull_events import ACCEPT  # noqa: E402  (what a client pulling the manifest sends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="events per pass")
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--database-url", default="", help="PostgreSQL to write to (default: SQLite in a temp dir)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="berth-audit-ingest-"))
    os.environ.update(
        {
            "BERTH_DATA_DIR": str(data),
            "DJANGO_SETTINGS_MODULE": "registry_project.settings",
            "BERTH_AUDIT_WRITER": "process",
        }
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from apps.audit import spool
    from apps.audit.events import Actor, ActorType, EventDraft
    from apps.audit.recorder import recorder

    call_command("migrate", verbosity=0)
    from django.db import connection

    from apps.audit.management.commands.audit_writer import _sqlite_cache

    _sqlite_cache(None, connection)  # as `berth audit_writer` sets up its connection
    accounts = ["714848334900", "111122223333", "444455556666"]
    actors = [
        Actor(type=ActorType.ROOT, arn=f"arn:berth:iam::{account}:root", account_id=account, username="ci")
        for account in accounts
    ]

    def pull(n: int) -> EventDraft:
        account = accounts[n % len(accounts)]
        return EventDraft(
            event_name="BatchGetImage",
            event_source="ecr",
            actor=actors[n % len(actors)],
            source_ip=f"10.0.{n % 7}.{n % 50}",
            user_agent="containers/5.23.1 (github.com/containers/image)",
            request_id=os.urandom(16).hex(),
            read_only=True,
            recipient_account_id=account,
            repository=f"team/app-{n % 5}",
            request_parameters={
                "registryId": account,
                "repositoryName": f"team/app-{n % 5}",
                "imageTag": "latest",
                "httpMethod": "GET",
                "acceptedMediaTypes": ACCEPT,
            },
            response_elements={
                "imageDigest": f"sha256:{n % 5:064x}",
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            },
        )

    directory = spool.spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{'pass':>4}  {'spool line µs':>13}  {'ingest CPU µs':>13}  {'ingest wall µs':>14}  (per event)")
        for number in range(1, args.passes + 1):
            drafts = [pull(n) for n in range(args.events)]
            started = time.process_time()
            lines = [spool.encode(draft) for draft in drafts]
            encode = time.process_time() - started
            (directory / f"bench-{os.getpid()}-{number:020d}-0000{spool.SUFFIX}").write_bytes(b"".join(lines))
            started, wall = time.process_time(), time.perf_counter()
            written = recorder.ingester.run_once()
            cpu, wall = time.process_time() - started, time.perf_counter() - wall
            assert written == args.events, f"wrote {written} of {args.events}"
            print(
                f"{number:4d}  {encode / written * 1e6:13.1f}  {cpu / written * 1e6:13.1f}  "
                f"{wall / written * 1e6:14.1f}"
            )
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
