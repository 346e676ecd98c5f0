"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full."""

from .ecr import repositories  # noqa: F401
from .ecr_public import catalog, policies, tags, unsupported  # noqa: F401
from .ecr_public import repositories as public_repositories  # noqa: F401
