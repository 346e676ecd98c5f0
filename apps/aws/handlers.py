"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full."""

from .ecr import (
    policies,  # noqa: F401
    registry,  # noqa: F401
    repositories,  # noqa: F401
    settings,  # noqa: F401
)
