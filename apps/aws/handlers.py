"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full."""

from .ecr import images as ecr_images  # noqa: F401
from .ecr import layers as ecr_layers  # noqa: F401
from .ecr import repositories  # noqa: F401
from .ecr import tokens as ecr_tokens  # noqa: F401
from .ecr_public import images as ecr_public_images  # noqa: F401
