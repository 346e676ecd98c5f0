"""The registry's test fixtures (a tenant, a registry client) for the operations tests."""

from apps.conftest import (  # noqa: F401 (fixtures)
    _fast_hashing_and_fresh_cache,
    _fresh_traffic_tallies,
    make_tenant,
    registry_client,
    tenant,
)
