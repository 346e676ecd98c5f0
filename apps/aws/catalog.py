"""Which operations of botocore's models Berth answers, for people: the README's
list (kept equal to this by a test) and `berth aws_operations`."""

from __future__ import annotations

from collections import defaultdict

from . import operations, protocol

SERVICE_TITLES = {
    protocol.ECR: "Amazon ECR (`ecr`)",
    protocol.ECR_PUBLIC: "Amazon ECR Public (`ecr-public`)",
    protocol.STS: "AWS STS (`sts`)",
}


def markdown() -> str:
    """Per service: the supported operations, then the unsupported ones grouped by reason."""
    lines = []
    for service, title in SERVICE_TITLES.items():
        names = protocol.operation_names(service)
        supported = sorted(name for name in names if (service, name) in operations.OPERATIONS)
        by_reason: dict[str, list[str]] = defaultdict(list)
        for name in sorted(names):
            if (service, name) in operations.UNSUPPORTED:
                by_reason[operations.UNSUPPORTED[(service, name)]].append(name)
        unsupported = sum(len(group) for group in by_reason.values())
        lines.append(f"**{title}**: {len(supported)} of {len(names)} operations supported.")
        lines.append("")
        lines.append("- Supported: " + (", ".join(f"`{name}`" for name in supported) or "none") + ".")
        if unsupported:
            lines.append(f"- Unsupported ({unsupported}), answering `UnsupportedOperationException`:")
            for reason, group in by_reason.items():
                lines.append("  - " + ", ".join(f"`{name}`" for name in group) + f": {reason}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
