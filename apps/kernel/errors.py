"""The domain's refusals: what went wrong, as data, with a sentence for people.

Services, selectors, content parsers and the digest grammar raise subclasses of
DomainError; they know nothing of HTTP. Each surface says them in its own words:
/v2/ as the OCI error envelope (apps.registry.v2.errors), the management API as
its error body (apps.api.exceptions)."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. ``message`` says what is wrong; a subclass
    keeps what it is about (a digest, a tag, ...) as attributes of its own."""

    default_message = "the request cannot be carried out"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
