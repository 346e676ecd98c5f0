"""The apps' fixtures (tenants, registry clients, published gallery repositories),
for tests that cross every surface."""

from apps.conftest import _fast_hashing_and_fresh_cache, committed, make_tenant, registry_client, tenant  # noqa: F401
from apps.gallery.tests.conftest import _static_files_without_manifest, publish  # noqa: F401
