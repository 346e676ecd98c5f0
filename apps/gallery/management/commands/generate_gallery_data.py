"""Fill the database with a synthetic public gallery, for measuring its speed:
publishers (some verified), public repositories with catalog data, a tagged
manifest each, pull counts, and their search rows. Written with bulk_create in
batches (signals do not fire for bulk writes, so the search rows are built here,
the way apps.gallery.services builds them)."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from apps.accounts.models import Account, Alias
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, Tag
from apps.repositories.catalog import render_markdown
from apps.repositories.models import Repository, RepositoryCatalogData, Visibility

from ... import services
from ...models import GalleryEntry, Kind

WORDS = (
    "nginx postgres redis kafka mysql mongo elastic search proxy gateway cache queue broker stream metrics "
    "logging tracing agent exporter operator controller ingress mesh auth identity vault secrets backup "
    "storage object block file sync mirror builder runner ci deploy terraform ansible python node java "
    "golang rust ruby php dotnet alpine debian ubuntu busybox minimal base runtime sdk tools cli web api "
    "server client worker scheduler cron batch etl spark flink airflow notebook jupyter ml model inference "
    "vision speech translate chat bot monitor alert dashboard grafana prometheus loki tempo jaeger otel "
    "dns dhcp ntp mail smtp imap ldap kerberos ssh vpn wireguard firewall scanner audit compliance policy"
).split()
ARCHITECTURES = ("x86-64", "ARM 64", "ARM", "x86")
OPERATING_SYSTEMS = ("Linux", "Windows")


class Command(BaseCommand):
    help = "Generate a synthetic public gallery (publishers, public repositories, tags, pulls) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--repositories", type=int, default=1000, help="public repositories to create")
        parser.add_argument("--publishers", type=int, default=0, help="publishers (default: one per 25 repositories)")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, repositories: int, publishers: int, batch_size: int, seed: int, **options):
        if repositories < 1 or batch_size < 1:
            raise CommandError("--repositories and --batch-size must be at least 1")
        rng = random.Random(seed)
        publishers = publishers or max(1, repositories // 25)
        run = hashlib.sha256(f"{seed}-{timezone.now().isoformat()}".encode()).hexdigest()[:6]
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=None,
            transient=False,
        ) as progress:
            accounts = self._publishers(rng, publishers, run, batch_size, progress)
            self._repositories(rng, accounts, repositories, run, batch_size, progress)
        self.stdout.write(f"generated {publishers} publishers and {repositories} public repositories (run {run})")

    def _publishers(self, rng, count, run, batch_size, progress) -> list[tuple[Account, str]]:
        task = progress.add_task("publishers", total=count)
        made = []
        first_id = 900_000_000_000 + rng.randrange(0, 90_000_000_000)
        for start in range(0, count, batch_size):
            batch = []
            for n in range(start, min(count, start + batch_size)):
                verified = rng.random() < 0.1
                word = rng.choice(WORDS)
                batch.append(
                    Account(
                        id=str(first_id + n),
                        name=f"{word} publisher {n}",
                        verified=verified,
                        display_name=f"{word.title()} {rng.choice(WORDS).title()} Inc" if verified else "",
                    )
                )
            with transaction.atomic():
                Account.objects.bulk_create(batch)
                aliases = [
                    Alias(
                        account=account,
                        name=f"{account.name.split()[0]}-{run}{start + i}",
                        is_default=True,
                        is_primary=True,
                    )
                    for i, account in enumerate(batch)
                ]
                Alias.objects.bulk_create(aliases)
            made += [(account, alias.name) for account, alias in zip(batch, aliases)]
            progress.advance(task, len(batch))
        return made

    def _repositories(self, rng, accounts, count, run, batch_size, progress) -> None:
        task = progress.add_task("repositories", total=count)
        now = timezone.now()
        for start in range(0, count, batch_size):
            size = min(count, start + batch_size) - start
            plans = []
            for n in range(start, start + size):
                account, alias = accounts[n % len(accounts)]
                words = rng.sample(WORDS, 3)
                kind = rng.choices([Kind.IMAGE, Kind.HELM_CHART, Kind.ARTIFACT], weights=[85, 10, 5])[0]
                plans.append(
                    {
                        "account": account,
                        "alias": alias,
                        "name": f"{words[0]}/{words[1]}-{n}",
                        "description": f"{words[0].title()} {words[1]} for {words[2]} workloads, built by {account.name}.",
                        "about": f"# {words[1].title()}\n\nA **{words[0]}** image with {rng.choice(WORDS)} and "
                        f"{rng.choice(WORDS)} support.\n\n```sh\ndocker run {alias}/{words[0]}\n```",
                        "architectures": rng.sample(ARCHITECTURES, rng.randint(1, 2)),
                        "operating_systems": rng.sample(OPERATING_SYSTEMS, 1),
                        "kind": kind,
                        "pulls": int(rng.paretovariate(1.2) * 10),
                        "pushed": now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365)),
                    }
                )
            with transaction.atomic():
                repos = Repository.objects.bulk_create(
                    [Repository(account=p["account"], name=p["name"], visibility=Visibility.PUBLIC) for p in plans]
                )
                RepositoryCatalogData.objects.bulk_create(
                    [
                        RepositoryCatalogData(
                            repository=repo,
                            description=p["description"],
                            about_markdown=p["about"],
                            about_html=render_markdown(p["about"]),
                            architectures=p["architectures"],
                            operating_systems=p["operating_systems"],
                        )
                        for repo, p in zip(repos, plans)
                    ]
                )
                manifests = Manifest.objects.bulk_create(
                    [
                        Manifest(
                            repository=repo,
                            digest="sha256:" + hashlib.sha256(f"{run}-{repo.pk}".encode()).hexdigest(),
                            media_type=mt.OCI_MANIFEST,
                            size=500,
                            content=b"{}",
                            total_size=rng.randrange(1, 10**9),
                            config_media_type=mt.HELM_CONFIG
                            if p["kind"] == Kind.HELM_CHART
                            else ("application/vnd.example.sbom" if p["kind"] == Kind.ARTIFACT else mt.OCI_CONFIG),
                            platforms=[{"os": "linux", "architecture": "amd64"}],
                        )
                        for repo, p in zip(repos, plans)
                    ]
                )
                Tag.objects.bulk_create(
                    [Tag(repository=repo, name="latest", manifest=m) for repo, m in zip(repos, manifests)]
                )
                GalleryEntry.objects.bulk_create(
                    [
                        GalleryEntry(
                            repository=repo,
                            account=p["account"],
                            name=repo.name,
                            aliases=p["alias"],
                            verified=p["account"].verified,
                            publisher_name=p["account"].display_name if p["account"].verified else "",
                            description=p["description"],
                            about_text=services.plain_text(render_markdown(p["about"])),
                            title=services.name_words(repo.name),
                            kind=p["kind"],
                            operating_systems=services.bars(p["operating_systems"]),
                            architectures=services.bars(p["architectures"]),
                            default_tag="latest",
                            tag_count=1,
                            last_pushed_at=p["pushed"],
                            last_updated_at=p["pushed"],
                            pull_count=p["pulls"],
                        )
                        for repo, p in zip(repos, plans)
                    ]
                )
                if connection.vendor == "postgresql":
                    GalleryEntry.objects.filter(repository__in=repos).update(search_document=services.search_vector())
            progress.advance(task, size)
