"""`berth keys`: the local key ring of KMS repositories on the filesystem store
(docs/encryption.md). `create NAME`, `rotate NAME`, `list`, `rewrap NAME` (move every
blob of the key to its current version) and `retire NAME VERSION`."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.kernel.keyring import KeyRingError, get_key_ring
from apps.registry.storage import get_blob_store
from apps.registry.storage.encryption import KMS, Encryption
from apps.registry.storage.filesystem import FilesystemBlobStore


class Command(BaseCommand):
    help = (
        "Berth's key ring (KMS repositories on the filesystem store). `create NAME`: a new key; `rotate NAME`: "
        "a new version that wraps every blob written from now on (older versions still read theirs); "
        "`rewrap NAME`: move the blobs of older versions to the current one; `retire NAME VERSION`: remove an "
        "old version (blobs it still wraps can no longer be read: rewrap first); `list`: keys and versions."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for action in ("create", "rotate", "rewrap"):
            sub.add_parser(action).add_argument("name")
        retire = sub.add_parser("retire")
        retire.add_argument("name")
        retire.add_argument("version", type=int)
        sub.add_parser("list")

    def handle(self, *args, action: str, **options):
        ring = get_key_ring()
        try:
            if action == "list":
                for info in ring.keys():
                    versions = ", ".join(str(v) for v in info.versions)
                    self.stdout.write(
                        f"{info.name}\tcurrent {info.current}\tversions {versions}\tcreated {info.created_at}"
                    )
                return
            name = options["name"]
            if action == "create":
                info = ring.create(name)
                self.stdout.write(f"created key {name} (version {info.current}) in {ring.path}")
            elif action == "rotate":
                info = ring.rotate(name)
                self.stdout.write(f"key {name}: version {info.current} now wraps new blobs")
            elif action == "retire":
                info = ring.retire(name, options["version"])
                self.stdout.write(
                    f"key {name}: version {options['version']} retired; versions left {list(info.versions)}"
                )
            else:
                self._rewrap(name)
        except KeyRingError as exc:
            raise CommandError(exc.message) from None

    def _rewrap(self, name: str) -> None:
        store = get_blob_store()
        if not isinstance(store, FilesystemBlobStore):
            raise CommandError(
                f"the blob store is {settings.BLOB_STORAGE}: its KMS keys are the KMS service's, which rotates "
                "them itself; Berth's key ring only wraps the filesystem store's blobs"
            )
        moved, seen = store.rewrap(Encryption(KMS, name))
        version, _ = get_key_ring().current(name)
        self.stdout.write(f"key {name}: {moved} of {seen} blobs moved to version {version}")
