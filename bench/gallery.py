"""Gallery speed: p95 of search, home, publisher and repository page renders, in
process through Django's test client, against the database DATABASE_URL names.

Fill that database first (PostgreSQL for the targets), then measure:

    createdb -h 127.0.0.1 -U postgres berth_gallery_bench
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/berth_gallery_bench
    python manage.py migrate && python manage.py generate_gallery_data --repositories 100000
    python bench/gallery.py --requests 300

Targets at 100,000 public repositories: search <= 50 ms p95, pages <= 100 ms p95.
Not part of the test suite."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")

TARGETS_MS = {"search": 50, "search-typo": 50, "home": 100, "repository": 100, "publisher": 100}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per kind of page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slowest", type=int, default=0, help="list the N slowest requests of each kind")
    parser.add_argument("--only", action="append", choices=sorted(TARGETS_MS), help="measure only these kinds")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each request this many times and keep the fastest (on a machine busy with other work)",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from apps.gallery import selectors
    from apps.gallery.management.commands.generate_gallery_data import WORDS
    from apps.gallery.models import GalleryEntry

    setup_test_environment()  # the test client's hosts; pages render as served
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    rng = random.Random(args.seed)
    listed = GalleryEntry.objects.count()
    if not listed:
        print("no gallery rows: run `manage.py generate_gallery_data` first", file=sys.stderr)
        return 2
    sample = selectors.with_aliases(GalleryEntry.objects.order_by("?")[: args.requests])
    client = Client()

    def search_paths():
        for n in range(args.requests):
            entry = sample[n % len(sample)]
            word = rng.choice(WORDS)
            yield rng.choice(
                [
                    f"/search?q={word}",
                    f"/search?q={word}+{rng.choice(WORDS)}",
                    f"/search?q={entry.alias}",
                    f"/search?q={entry.name.split('/')[-1]}",
                    f"/search?q={word}&os=Linux&arch=ARM+64",
                    f"/search?q={word}&kind=helm&verified=1",
                    f"/search?q={word}&sort=updated&page=3",
                    f"/search?q={word[:-1] + 'x'}",  # a typo: the trigram fallback when nothing matches
                    "/search",
                    "/search?sort=updated",
                ]
            )

    def typo(word: str) -> str:
        """One letter of a word of five or more changed (or one dropped): found only by the look-alike pass."""
        at = rng.randrange(1, len(word) - 1)
        if rng.random() < 0.5:
            return word[:at] + word[at + 1 :]
        return word[:at] + ("z" if word[at] != "z" else "q") + word[at + 1 :]

    long_words = [word for word in WORDS if len(word) >= 5]
    kinds = {
        "search": list(search_paths()),
        # a typo that matches nothing exactly: PostgreSQL's trigram index, SQLite's pass over names
        "search-typo": [
            f"/search?q={typo(rng.choice(long_words))}" + rng.choice(["", "&kind=image", "&sort=updated"])
            for _ in range(args.requests)
        ],
        "home": ["/"] * args.requests,
        "repository": [f"/{e.alias}/{e.name}" + rng.choice(["", "?tab=tags", "?tab=usage"]) for e in sample],
        "publisher": [f"/{e.alias}" for e in sample],
    }
    if args.only:
        kinds = {kind: paths for kind, paths in kinds.items() if kind in args.only}
    for paths in kinds.values():  # warm the connection and caches once
        client.get(paths[0])
    print(
        f"{connection.vendor}, {listed} listed repositories, {args.requests} requests per kind"
        + (f", fastest of {args.repeat} each" if args.repeat > 1 else "")
    )
    print(f"{'page':<12}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'target':>8}  ok")
    failed = False
    for kind, paths in kinds.items():
        timings, by_path = [], []
        for path in paths:
            took = []
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                response = client.get(path)
                took.append((time.perf_counter() - started) * 1000)
            timings.append(min(took))
            by_path.append((timings[-1], path))
            if response.status_code != 200:
                print(f"{path}: {response.status_code}", file=sys.stderr)
                failed = True
        p95 = percentile(timings, 0.95)
        ok = p95 <= TARGETS_MS[kind]
        failed |= not ok
        print(
            f"{kind:<12}{statistics.median(timings):>8.1f}{p95:>8.1f}{max(timings):>8.1f}{TARGETS_MS[kind]:>8}  {'yes' if ok else 'NO'}"
        )
        if args.slowest:
            for took, path in sorted(by_path, reverse=True)[: args.slowest]:
                print(f"{'':<12}{took:>8.1f}  {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
