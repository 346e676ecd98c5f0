"""The lowest floor: small helpers every app may import, with no models and no
imports of any app (Django only in `requests`, which reads a request's context) —
ARNs, wildcard matching, digest grammar, the request context and the one client_ip,
the names and limits several floors store, JSON limits, the data directory's file
modes and secrets. The floors above it are listed in docs/architecture.md and
guarded by tests/test_floors.py."""
