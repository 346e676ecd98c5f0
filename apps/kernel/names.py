"""Names and limits that more than one floor stores or checks: the audit trail keeps
repository names, tags and digests in columns of its own, below the apps that own
them, so their sizes and grammars live here."""

DIGEST_MAX_LENGTH = 7 + 128 + 64  # "sha512:" + hex, with room for registered algorithms

# The OCI distribution spec's tag grammar, with Amazon ECR's length: up to 300
# characters where the spec stops at 128.
TAG_MAX_LENGTH = 300
TAG_PATTERN = rf"^[a-zA-Z0-9_][a-zA-Z0-9._-]{{0,{TAG_MAX_LENGTH - 1}}}$"

# The OCI distribution spec's name grammar, for the part after the namespace.
REPOSITORY_NAME_PATTERN = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$"
REPOSITORY_NAME_MAX_LENGTH = 256
