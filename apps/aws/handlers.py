"""Every handler module, imported once (AwsConfig.ready) so that the table of
operations is full. One line per module: add yours."""

from importlib import import_module

MODULES = [
    "ecr.repositories",
    "ecr.settings",
    "ecr.policies",
    "ecr.registry",
    "ecr.lifecycle",
    "ecr.scanning",
    "ecr.cache",
    "ecr.templates",
    "ecr.images",
    "ecr.layers",
    "ecr.tokens",
    "ecr_public.images",
    "ecr_public.repositories",
    "ecr_public.catalog",
    "ecr.unsupported",
    "ecr_public.unsupported",
    "sts",
]

for module in MODULES:
    import_module(f"{__package__}.{module}")
