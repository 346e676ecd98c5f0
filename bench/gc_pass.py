"""How long a garbage collection pass takes, and what it costs the pushes and pulls
running beside it. The issue's budget: 100,000 blobs and 20,000 manifests with 10 %
garbage collected in ≤ 60 s on PostgreSQL, and pushes/pulls keep ≥ 80 % of their
throughput during the pass.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gcbench python bench/gc_pass.py \\
        [--blobs 100000] [--manifests 20000] [--garbage 0.1] [--load-seconds 10]

In a throwaway data directory (filesystem store; SQLite, or DATABASE_URL's database,
which must be empty), it makes 100 repositories holding ``--manifests`` manifests of
five blobs each, and ``--garbage`` of ``--blobs`` as garbage: blobs no repository
links, untouched for two hours, with their bytes on disk, and one in five of them
still linked by a layer pushed two hours ago without a manifest (the pass drops that
link; the blob goes a pass later). Then:

1. it times a pass (``collector.collect``) with the default one-hour grace window;
2. with ``--load-seconds``, it starts ``berth serve`` on the same data and measures
   pushes (a new 4 KiB layer and its manifest) and pulls (manifest and blob GETs)
   per second from 4 client threads for that long, then makes the garbage again and
   measures them while a pass runs beside them.

Prints the figures. Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
REPOSITORIES = 100
LAYERS_PER_MANIFEST = 5
CLIENTS = 4
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


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


def populate(blob_count: int, manifest_count: int, garbage: float) -> tuple[list, int]:
    """The content and the garbage; returns (the repositories, the number of garbage blobs)."""
    from django.utils import timezone

    from apps.accounts import services as account_services
    from apps.audit.events import Actor
    from apps.registry.models import Blob, Manifest, ManifestBlob, RepositoryBlob
    from apps.repositories import services as repository_services

    actor = Actor.system("bench")
    account = account_services.create_account(name="bench", username="bench", password="bench-password-1")
    repositories = [
        repository_services.create_repository(account=account, name=f"app{number}", actor=actor)
        for number in range(REPOSITORIES)
    ]
    garbage_count = int(blob_count * garbage)
    live = [digest_of(f"live-{number}") for number in range(blob_count - garbage_count)]
    Blob.objects.bulk_create(
        [Blob(digest=d, size=4096 + number % 1000) for number, d in enumerate(live)], batch_size=5000
    )
    per_repository = manifest_count // REPOSITORIES
    links, references = set(), []
    manifests = []
    for number in range(manifest_count):
        repository = repositories[number // per_repository % REPOSITORIES]
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "number": number}).encode()
        manifests.append(
            Manifest(
                repository=repository,
                digest="sha256:" + hashlib.sha256(body).hexdigest(),
                media_type=OCI_MANIFEST,
                size=len(body),
                content=body,
            )
        )
    Manifest.objects.bulk_create(manifests, batch_size=2000)
    for number, manifest in enumerate(manifests):
        for layer in range(LAYERS_PER_MANIFEST):
            blob = live[(number * LAYERS_PER_MANIFEST + layer) % len(live)]
            references.append(ManifestBlob(manifest_id=manifest.pk, blob_id=blob))
            links.add((manifest.repository_id, blob))
    ManifestBlob.objects.bulk_create(references, batch_size=5000)
    RepositoryBlob.objects.bulk_create(
        [RepositoryBlob(repository_id=repository, blob_id=blob) for repository, blob in links], batch_size=5000
    )
    make_garbage(garbage_count, repositories, timezone.now() - timedelta(hours=2))
    return repositories, garbage_count


def make_garbage(count: int, repositories: list, when) -> None:
    from apps.registry.models import Blob, RepositoryBlob
    from apps.registry.storage import get_blob_store

    store = get_blob_store()
    tag = secrets.token_hex(4)
    digests = []
    for number in range(count):
        data = f"garbage-{tag}-{number}".encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = store.path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests.append((digest, len(data)))
    Blob.objects.bulk_create([Blob(digest=d, size=size, touched_at=when) for d, size in digests], batch_size=5000)
    dangling = [
        RepositoryBlob(repository=repositories[number % len(repositories)], blob_id=d)
        for number, (d, _) in enumerate(digests[::5])
    ]
    RepositoryBlob.objects.bulk_create(dangling, batch_size=5000)
    RepositoryBlob.objects.filter(blob_id__in=[link.blob_id for link in dangling]).update(created_at=when)


def collect_when_told() -> None:
    """The measured pass, in a process of its own: set up, say "ready", wait for a
    line, run one pass, print the blobs it deleted."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    sys.path.insert(0, str(REPOSITORY))
    import django

    django.setup()
    from apps.registry import collector

    print("ready", flush=True)
    sys.stdin.readline()
    print(collector.collect().blobs, flush=True)


def log_tail(path: Path, lines: int = 40) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-lines:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Load:
    """Client threads pushing and pulling against ``url`` until stopped."""

    def __init__(self, url: str, credentials: tuple[str, str], account_id: str) -> None:
        import requests

        self.url, self.credentials, self.account_id = url, credentials, account_id
        self.requests = requests
        self.counts = {"push": 0, "pull": 0, "error": 0}
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.first_error: str | None = None

    def _token(self, session, repository: str) -> str:
        response = session.get(
            f"{self.url}/token",
            params={"service": "berth-registry", "scope": f"repository:{repository}:pull,push"},
            auth=self.credentials,
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["token"]

    def _client(self, number: int) -> None:
        session = self.requests.Session()
        session.trust_env = False
        repository = f"{self.account_id}/load{number}"
        session.headers["Authorization"] = f"Bearer {self._token(session, repository)}"
        pulled = self._push(session, repository)
        while self.running.is_set():
            kind = "push" if secrets.randbelow(2) else "pull"
            try:
                if kind == "push":
                    pulled = self._push(session, repository)
                else:
                    manifest, layer = pulled
                    assert session.get(f"{self.url}/v2/{repository}/manifests/{manifest}", timeout=30,
                                       headers={"Accept": OCI_MANIFEST}).status_code == 200  # fmt: skip
                    assert session.get(f"{self.url}/v2/{repository}/blobs/{layer}", timeout=30).status_code == 200
                ok = True
            except (AssertionError, self.requests.RequestException) as exc:
                ok = False
                self.first_error = self.first_error or repr(exc)[:300]
                time.sleep(0.1)  # a server that went away is not hammered
            with self.lock:
                self.counts[kind if ok else "error"] += 1

    def _push(self, session, repository: str) -> tuple[str, str]:
        layer = os.urandom(4096)
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": secrets.token_hex(8)}).encode()
        descriptors = []
        for data in (config, layer):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            response = session.post(f"{self.url}/v2/{repository}/blobs/uploads/?digest={digest}", data=data, timeout=30)
            assert response.status_code == 201, response.text
            descriptors.append({"digest": digest, "size": len(data)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **descriptors[0]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **descriptors[1]}],
        }
        response = session.put(
            f"{self.url}/v2/{repository}/manifests/latest",
            data=json.dumps(manifest).encode(),
            headers={"Content-Type": OCI_MANIFEST},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.headers["Docker-Content-Digest"], descriptors[1]["digest"]

    def measure(self, seconds: float | None, during=None) -> tuple[float, dict]:
        """Operations per second over ``seconds``, or for as long as ``during()`` runs."""
        self.counts = {"push": 0, "pull": 0, "error": 0}
        self.running.set()
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # every client has its token and first image
        with self.lock:
            before = dict(self.counts)
        started = time.perf_counter()
        result = during() if during else time.sleep(seconds)
        elapsed = time.perf_counter() - started
        with self.lock:
            after = dict(self.counts)
        self.running.clear()
        for thread in threads:
            thread.join()
        done = {kind: after[kind] - before[kind] for kind in after}
        figures = {**done, "seconds": round(elapsed, 2), "result": result}
        if self.first_error:
            figures["first error"] = self.first_error
        return (done["push"] + done["pull"]) / elapsed, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--garbage", type=float, default=0.1)
    parser.add_argument("--load-seconds", type=float, default=0, help="also measure pushes and pulls (0: don't)")
    parser.add_argument("--collect-when-told", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.collect_when_told:
        collect_when_told()
        return
    with tempfile.TemporaryDirectory(prefix="berth-gc-bench-") as data_dir:
        setup_django(data_dir)
        from django.db import connection

        from apps.registry import collector

        started = time.perf_counter()
        repositories, garbage_count = populate(options.blobs, options.manifests, options.garbage)
        print(
            f"{connection.vendor}: {options.blobs} blobs ({garbage_count} garbage, {garbage_count // 5} of them "
            f"still linked by a stray layer), {options.manifests} manifests in {REPOSITORIES} repositories "
            f"(made in {time.perf_counter() - started:.1f} s)"
        )
        started = time.perf_counter()
        report = collector.collect()
        elapsed = time.perf_counter() - started
        print(
            f"pass: {elapsed:.2f} s — {report.links} links dropped, {report.blobs} blobs ({report.bytes} bytes) deleted"
        )
        started = time.perf_counter()
        report = collector.collect(grace=timedelta(0))
        print(f"next pass (no grace): {time.perf_counter() - started:.2f} s — {report.blobs} blobs deleted")
        if options.load_seconds:
            measure_load(data_dir, repositories, garbage_count, options.load_seconds)


def measure_load(data_dir: str, repositories: list, garbage_count: int, seconds: float) -> None:
    from django.db import connections
    from django.utils import timezone

    from apps.accounts.models import Account

    account = Account.objects.get(name="bench")
    connections.close_all()
    port = free_port()
    env = {**os.environ, "BERTH_DATA_DIR": data_dir, "PYTHONPATH": str(REPOSITORY)}
    log = open(Path(data_dir) / "server.log", "wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("berth")), "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(600):
            try:
                requests.get(f"{url}/v2/", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.2)
        load = Load(url, ("bench", "bench-password-1"), account.id)
        alone, figures = load.measure(seconds)
        print(f"pushes and pulls alone: {alone:.1f} /s {figures}")
        make_garbage(garbage_count, repositories, timezone.now() - timedelta(hours=2))
        # The pass runs in a process of its own, as in a Celery worker: in this one it
        # would hold the clients' interpreter lock. Started (Django set up) before the
        # measurement begins; the pass begins with it.
        collecting = subprocess.Popen(
            [sys.executable, __file__, "--collect-when-told"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert collecting.stdout.readline().strip() == "ready"

        def one_pass() -> int:
            collecting.stdin.write("go\n")
            collecting.stdin.flush()
            blobs = int(collecting.stdout.readline())
            collecting.wait(timeout=60)
            return blobs

        beside, figures = load.measure(None, during=one_pass)
        print(f"during a pass: {beside:.1f} /s {figures} — {100 * beside / alone:.0f} % of alone")
        if figures["error"]:
            print("the server's log ends:\n" + "\n".join(log_tail(Path(data_dir) / "server.log")))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
