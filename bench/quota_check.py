"""What the storage quota's check costs as an account grows: the exact count of the
account's stored bytes (apps.registry.quotas.stored_bytes, an aggregate over the
blobs its repositories link and their manifests), the check each blob upload's
completion and each mount makes (quotas.check_blob, on the account's running
figure), and the figures the console and `berth usage` show (quotas.figures).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/quotabench python bench/quota_check.py \\
        [--blobs 1000,10000,100000] [--repositories 50] [--rounds 30]

In a throwaway data directory (SQLite, or DATABASE_URL's database, which must be
empty), one account grows to each number of ``--blobs`` in turn: each blob linked by
one of ``--repositories`` repositories (one in five by a second), one manifest per
five blobs. After each step it times ``--rounds`` of each (a check of a blob new to
the account, admitted) and prints the medians and the 90th percentiles.
Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
BATCH = 5000
NEW_BLOB = "sha256:" + hashlib.sha256(b"a blob new to the account").hexdigest()


def setup_django(data_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    os.environ["BERTH_DATA_DIR"] = data_dir
    sys.path.insert(0, str(REPOSITORY))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def timed(function, rounds: int) -> tuple[float, float]:
    """Median and 90th percentile of ``rounds`` calls, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", default="1000,10000,100000")
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    steps = [int(n) for n in args.blobs.split(",")]

    with tempfile.TemporaryDirectory(prefix="berth-quota-bench-") as data_dir:
        setup_django(data_dir)
        from django.db import connection

        from apps.accounts import services as account_services
        from apps.audit.events import Actor
        from apps.registry import quotas
        from apps.registry.models import Blob, Manifest, RepositoryBlob
        from apps.repositories.models import Repository

        account = account_services.create_account(name="quota-bench", username="quota-bench", password="x" * 20)
        account_services.set_account_quota(
            account=account,
            storage_bytes=10**15,
            repositories=None,
            images_per_repository=None,
            actor=Actor.staff("bench"),
        )
        repositories = Repository.objects.bulk_create(
            [Repository(account=account, name=f"repo-{n}") for n in range(args.repositories)]
        )
        print(f"{connection.vendor}; {args.repositories} repositories; {args.rounds} rounds each")
        print("| blobs linked | links | manifests | exact count p50 / p90 | check_blob p50 / p90 | figures p50 / p90 |")
        print("| --- | --- | --- | --- | --- | --- |")
        made = 0
        for target in steps:
            while made < target:
                count = min(BATCH, target - made)
                blobs = Blob.objects.bulk_create(
                    [Blob(digest=digest_of(f"blob {n}"), size=1_000_000 + n) for n in range(made, made + count)]
                )
                links = [
                    RepositoryBlob(repository=repositories[(made + i) % len(repositories)], blob=blob)
                    for i, blob in enumerate(blobs)
                ]
                links += [
                    RepositoryBlob(repository=repositories[(made + i + 1) % len(repositories)], blob=blob)
                    for i, blob in enumerate(blobs)
                    if i % 5 == 0
                ]
                RepositoryBlob.objects.bulk_create(links)
                Manifest.objects.bulk_create(
                    [
                        Manifest(
                            repository=repositories[(made + i) % len(repositories)],
                            digest=digest_of(f"manifest {made + i}"),
                            media_type="application/vnd.oci.image.manifest.v1+json",
                            size=1000,
                            content=b"{}",
                        )
                        for i in range(0, count, 5)
                    ]
                )
                made += count
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            exact = timed(lambda: quotas.stored_bytes(account.pk), args.rounds)
            check = timed(lambda: quotas.check_blob(repository=repositories[0], digest=NEW_BLOB, size=1), args.rounds)
            shown = timed(lambda: quotas.figures(account.pk), args.rounds)
            links = RepositoryBlob.objects.filter(repository__account=account).count()
            manifests = Manifest.objects.filter(repository__account=account).count()
            print(
                f"| {made:,} | {links:,} | {manifests:,} | {exact[0]:.1f} / {exact[1]:.1f} ms "
                f"| {check[0]:.1f} / {check[1]:.1f} ms | {shown[0]:.1f} / {shown[1]:.1f} ms |"
            )


if __name__ == "__main__":
    main()
