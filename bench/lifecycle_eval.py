"""How long evaluating a lifecycle policy takes on a big repository: the issue's
budget is 10,000 images in ≤ 10 s.

    python bench/lifecycle_eval.py [--images 10000] [--run]

In a throwaway data directory (SQLite, or DATABASE_URL's database if set: it must
be empty), it makes one repository of ``--images`` images pushed over the last 200
days: 60 % tagged (``prod-N``, ``dev-N``, ``v1.N``), 40 % untagged, one in ten an
index of two platform manifests, one in five with a signature referrer, a third
pulled at some time. Then it times StartLifecyclePolicyPreview of a four-rule
policy (a keep rule, a tag-pattern count, an untagged age, an any count) — reading
the repository's snapshot and evaluating it, the same work as the daily run's
evaluation — and, with ``--run``, the run that then deletes what the preview listed.
Prints the figures. Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep what was pulled this week",
            "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 7},
            "action": {"type": "keep"},
        },
        {
            "rulePriority": 10,
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["prod-*"],
                "countType": "imageCountMoreThan",
                "countNumber": 500,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 20,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 30,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 4000},
            "action": {"type": "expire"},
        },
    ]
}


def setup_django(data_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    os.environ["BERTH_DATA_DIR"] = data_dir
    sys.path.insert(0, str(REPOSITORY))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fill(count: int):
    from django.db import transaction
    from django.utils import timezone

    from apps.accounts import services as account_services
    from apps.audit.events import Actor
    from apps.registry.models import Manifest, ManifestChild, Tag
    from apps.repositories import services as repository_services

    actor = Actor.system("bench")
    account = account_services.create_account(name="bench", username="bench", password="bench-password-1")
    repository = repository_services.create_repository(account=account, name="app", actor=actor)
    now = timezone.now()
    rng = random.Random(16)
    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    index_type = "application/vnd.oci.image.index.v1+json"
    with transaction.atomic():
        rows, tags, edges = [], [], []
        for n in range(count):
            pushed = now - timedelta(days=rng.uniform(0, 200))
            pulled = pushed + (now - pushed) * rng.random() if rng.random() < 0.33 else None
            is_index = n % 10 == 0
            top = digest(f"image-{n}")
            rows.append((top, index_type if is_index else manifest_type, pushed, pulled, ""))
            if is_index:
                for arch in ("amd64", "arm64"):
                    rows.append((digest(f"image-{n}-{arch}"), manifest_type, pushed, None, ""))
                    edges.append((top, digest(f"image-{n}-{arch}")))
            if n % 5 == 0:
                rows.append((digest(f"signature-{n}"), manifest_type, pushed, None, top))
            kind = rng.random()
            if kind < 0.6:
                tags.append((top, rng.choice(("prod", "dev", "v1.")) + f"-{n}"))
        manifests = Manifest.objects.bulk_create(
            [
                Manifest(
                    repository=repository,
                    digest=d,
                    media_type=media_type,
                    size=2,
                    content=b"{}",
                    last_pulled_at=pulled,
                    subject_digest=subject,
                )
                for d, media_type, _, pulled, subject in rows
            ],
            batch_size=2000,
        )
        by_digest = {m.digest: m for m in manifests}
        for d, _, pushed, _, _ in rows:
            by_digest[d].created_at = pushed
        Manifest.objects.bulk_update(manifests, ["created_at"], batch_size=2000)
        Tag.objects.bulk_create(
            [Tag(repository=repository, name=name, manifest=by_digest[d]) for d, name in tags], batch_size=2000
        )
        ManifestChild.objects.bulk_create(
            [ManifestChild(parent=by_digest[p], child=by_digest[c]) for p, c in edges], batch_size=2000
        )
    return repository, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--run", action="store_true", help="also time the run that deletes what the preview lists")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-lifecycle-bench-") as data_dir:
        setup_django(data_dir)
        from django.db import connection

        from apps.audit.events import Actor
        from apps.lifecycle import services

        started = time.perf_counter()
        repository, manifests = fill(options.images)
        print(f"{options.images} images ({manifests} manifests) made in {time.perf_counter() - started:.1f} s")
        print(f"database: {connection.vendor}")
        text = json.dumps(POLICY, indent=2)
        services.put_lifecycle_policy(repository=repository, text=text, actor=Actor.system("bench"))
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            preview = services.start_lifecycle_policy_preview(repository=repository, actor=Actor.system("bench"))
            timings.append(time.perf_counter() - started)
        expiring = len(preview.results)
        going = expiring + sum(len(result["alsoExpires"]) for result in preview.results)
        print(
            f"evaluation (preview: snapshot + rules + plan): best {min(timings):.2f} s, worst {max(timings):.2f} s; "
            f"{expiring} images would expire ({going} manifests)"
        )
        if options.run:
            started = time.perf_counter()
            result = services.run_lifecycle_policy(repository=repository)
            elapsed = time.perf_counter() - started
            print(
                f"run: {len(result.expired)} images expired ({len(result.deleted)} manifests) in {elapsed:.1f} s; "
                f"{len(result.skipped)} left"
            )


if __name__ == "__main__":
    main()
