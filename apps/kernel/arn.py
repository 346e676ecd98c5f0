"""Amazon Resource Names with a configurable partition.

Berth's ARNs read ``arn:<partition>:ecr:<region>:<account>:repository/<name>``
with ``berth`` as the default partition. ``arn:aws:`` is accepted everywhere as an
alias of the configured partition so that policies written for Amazon ECR can be
pasted in unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .wildcards import wildcard_match

DEFAULT_PARTITION = "berth"
AWS_PARTITION = "aws"
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


class ArnError(ValueError):
    pass


def normalize_partition(partition: str, configured: str) -> str:
    return configured if partition == AWS_PARTITION else partition


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str, *, partition: str = DEFAULT_PARTITION) -> Arn:
        """Parse a concrete ARN (no wildcards); ``arn:aws:`` reads as ``partition``."""
        if not isinstance(text, str):
            raise ArnError(f"ARN must be a string, not {type(text).__name__}")
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ArnError(f"'{text}' is not an ARN (arn:partition:service:region:account:resource)")
        _, arn_partition, service, region, account, resource = parts
        arn_partition = normalize_partition(arn_partition, partition)
        if arn_partition != partition:
            raise ArnError(f"ARN '{text}' has partition '{parts[1]}', expected '{partition}' or 'aws'")
        if not service:
            raise ArnError(f"ARN '{text}' has no service")
        if not resource:
            raise ArnError(f"ARN '{text}' has no resource")
        if account and not ACCOUNT_ID_RE.match(account):
            raise ArnError(f"ARN '{text}' has account '{account}', expected 12 digits")
        return cls(arn_partition, service, region, account, resource)

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def normalize_arn_pattern(text: str, *, partition: str = DEFAULT_PARTITION) -> str:
    """Validate an ARN that may hold wildcards and rewrite ``arn:aws:`` to ``partition``.

    ``*`` alone is every resource. A pattern may stop early when its last segment
    is a wildcard (``arn:aws:ecr:*``), which then covers the rest of the ARN.
    """
    if not isinstance(text, str) or not text:
        raise ArnError("resource must be a non-empty string")
    if text == "*":
        return text
    parts = text.split(":", 5)
    if parts[0] != "arn":
        raise ArnError(f"'{text}' is not an ARN (arn:partition:service:region:account:resource)")
    if len(parts) < 6 and not parts[-1].endswith("*"):
        raise ArnError(f"'{text}' is not an ARN (arn:partition:service:region:account:resource)")
    if len(parts) > 1:
        parts[1] = normalize_partition(parts[1], partition)
        if parts[1] != partition and not wildcard_match(parts[1], partition):
            raise ArnError(f"ARN '{text}' has partition '{text.split(':')[1]}', expected '{partition}' or 'aws'")
    if len(parts) > 2 and not parts[2]:
        raise ArnError(f"ARN '{text}' has no service")
    if len(parts) == 6 and not parts[5]:
        raise ArnError(f"ARN '{text}' has no resource")
    return ":".join(parts)


def arn_matches(pattern: str, value: str) -> bool:
    """Case-sensitive, segment by segment (as ``ArnLike``): wildcards stay within a
    colon-separated segment, except that a short pattern's last segment covers the rest."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) > len(value_parts):
        return False
    last = len(pattern_parts) - 1
    for position in range(last):
        if not wildcard_match(pattern_parts[position], value_parts[position]):
            return False
    return wildcard_match(pattern_parts[last], ":".join(value_parts[last:]))


def repository_arn(account_id: str, region: str, name: str, *, partition: str = DEFAULT_PARTITION) -> str:
    return str(Arn(partition, "ecr", region, account_id, f"repository/{name}"))


def account_root_arn(account_id: str, *, partition: str = DEFAULT_PARTITION) -> str:
    return str(Arn(partition, "iam", "", account_id, "root"))


def user_arn(account_id: str, username: str, *, path: str = "/", partition: str = DEFAULT_PARTITION) -> str:
    return str(Arn(partition, "iam", "", account_id, f"user{path}{username}"))


def role_arn(account_id: str, role_name: str, *, path: str = "/", partition: str = DEFAULT_PARTITION) -> str:
    return str(Arn(partition, "iam", "", account_id, f"role{path}{role_name}"))


def assumed_role_arn(account_id: str, role_name: str, session_name: str, *, partition: str = DEFAULT_PARTITION) -> str:
    return str(Arn(partition, "sts", "", account_id, f"assumed-role/{role_name}/{session_name}"))
