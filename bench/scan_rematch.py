"""How long re-matching stored inventories takes after an advisory import
(continuous scanning): the issue's budget is 10,000 inventories in ≤ 60 s.

    python bench/scan_rematch.py --advisories PATH.osv.jsonl [--inventories 10000] [--packages 60]

In a throwaway data directory (SQLite, or DATABASE_URL's database if set: it must
be empty), it makes one account with an ENHANCED / CONTINUOUS_SCAN configuration,
``--inventories`` images of one repository, each with a stored inventory of
``--packages`` PyPI packages drawn from the advisories' own package names, a share
``--vulnerable`` of them at a version below one of their fixes (the rest newer than
any), each COMPLETE. Then it imports half of the
advisories (the "old" database), and times importing all of them (the other half
is the new set) and, separately, ``services.rematch`` over the changed ids, which
reads no layer. Prints the figures. Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def setup_django(data_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    os.environ["BERTH_DATA_DIR"] = data_dir
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)  # the re-match is timed on its own, not inside the import
    sys.path.insert(0, str(REPOSITORY))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def old_versions(path: Path) -> dict[str, list[str]]:
    """PyPI package names of the advisories, with versions below some fix."""
    found: dict[str, set[str]] = {}
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            for affected in record.get("affected", []):
                package = affected.get("package", {})
                if package.get("ecosystem") != "PyPI":
                    continue
                for events in (r.get("events", []) for r in affected.get("ranges", [])):
                    for event in events:
                        fixed = event.get("fixed", "")
                        parts = fixed.split(".")
                        if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) and parts[0] != "0":
                            found.setdefault(package["name"], set()).add(f"{parts[0]}.0")
    return {name: sorted(versions) for name, versions in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--advisories", type=Path, required=True, help="a JSON Lines file of PyPI OSV records")
    parser.add_argument("--inventories", type=int, default=10_000)
    parser.add_argument("--packages", type=int, default=60, help="packages per inventory")
    parser.add_argument(
        "--vulnerable", type=float, default=0.1, help="share of packages at a version below a fix (the rest above all)"
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="berth-rematch-")
    setup_django(data_dir)
    import logging

    logging.getLogger("apps.scanning").setLevel(logging.INFO)  # the re-match's phases
    from django.db import transaction

    from apps.accounts import services as account_services
    from apps.audit.events import Actor
    from apps.registry.models import Manifest
    from apps.repositories import services as repository_services
    from apps.scanning import services, vulndb
    from apps.scanning.models import Finding, ImageScan, Inventory, InventoryPackage

    actor = Actor.system("bench")
    account = account_services.create_account(name="bench", username="bench", password="bench-password-1")
    repository = repository_services.create_repository(account=account, name="app", actor=actor)
    services.put_scanning_configuration(
        account_id=account.pk,
        scan_type="ENHANCED",
        rules=[{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*"}]}],
        actor=actor,
    )

    records = args.advisories.read_text().splitlines()
    random.seed(7)
    random.shuffle(records)
    old = Path(data_dir, "old.osv.jsonl")
    old.write_text("\n".join(records[: len(records) // 2]) + "\n")
    everything = Path(data_dir, "all.osv.jsonl")
    everything.write_text("\n".join(records) + "\n")

    names = old_versions(args.advisories)
    choices = sorted(names)
    started = time.monotonic()
    for start in range(0, args.inventories, 1000):
        with transaction.atomic():
            batch = range(start, min(start + 1000, args.inventories))
            manifests = Manifest.objects.bulk_create(
                Manifest(
                    repository=repository,
                    digest=f"sha256:{n:064x}",
                    media_type="application/vnd.oci.image.manifest.v1+json",
                    size=2,
                    content=b"{}",
                )
                for n in batch
            )
            inventories = Inventory.objects.bulk_create(Inventory(digest=m.digest, os=None) for m in manifests)
            ImageScan.objects.bulk_create(
                ImageScan(manifest=m, inventory=i, status="COMPLETE", requested_at=m.created_at)
                for m, i in zip(manifests, inventories, strict=True)
            )
            packages = []
            for inventory in inventories:
                for name in random.sample(choices, min(args.packages, len(choices))):
                    key = name.lower().replace("_", "-").replace(".", "-")
                    packages.append(
                        InventoryPackage(
                            inventory=inventory,
                            ecosystem="PyPI",
                            name=key,
                            version=random.choice(names[name]) if random.random() < args.vulnerable else "9999.0",
                            purl=f"pkg:pypi/{key}",
                            key_ecosystem="PyPI",
                            key_name=key,
                        )
                    )
            InventoryPackage.objects.bulk_create(packages, batch_size=5000)
    print(f"stored {args.inventories} inventories of {args.packages} packages in {time.monotonic() - started:.1f} s")

    vulndb.import_paths([str(old)])
    started = time.monotonic()
    result = vulndb.import_paths([str(everything)])
    imported = time.monotonic() - started
    print(f"import of {len(records)} records, {len(result.changed_ids)} new: {imported:.1f} s")
    started = time.monotonic()
    changed = services.rematch(advisory_ids=result.changed_ids)
    took = time.monotonic() - started
    print(
        f"re-match after the import: {took:.1f} s for {ImageScan.objects.count()} stored inventories, "
        f"{changed} with new findings, {Finding.objects.count()} findings written"
    )


if __name__ == "__main__":
    main()
