"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full."""

from .ecr import (
    cache,  # noqa: F401
    lifecycle,  # noqa: F401
    repositories,  # noqa: F401
    scanning,  # noqa: F401
    templates,  # noqa: F401
)
