"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full."""

from .ecr import repositories  # noqa: F401
