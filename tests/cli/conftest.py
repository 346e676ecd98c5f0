"""The CLI's end-to-end tests run the real `berth` executable against the same kind
of live server as tests/e2e (its `berth` fixture, imported here)."""

from tests.e2e.conftest import berth, server_tracebacks_fail_the_test  # noqa: F401  (fixtures)
