"""The scanner's refusals, as domain errors (the API maps them in apps/api/exceptions.py)."""

from __future__ import annotations

from apps.kernel.errors import DomainError


class ScanLimitExceeded(DomainError):
    """StartImageScan of an image already asked for within the day (ECR's LimitExceededException)."""

    def __init__(self, digest: str, retry_after_seconds: int) -> None:
        self.digest = digest
        self.retry_after_seconds = retry_after_seconds
        hours = max(1, round(retry_after_seconds / 3600))
        super().__init__(
            f"image {digest} was scanned on demand less than 24 hours ago; an image can be scanned on demand "
            f"once a day: try again in about {hours} h"
        )


class ImageNotScannable(DomainError):
    """The image is not one the scanner reads (an artifact, a Helm chart, a signature):
    ECR's UnsupportedImageTypeException."""

    def __init__(self, digest: str, reason: str) -> None:
        self.digest = digest
        super().__init__(f"image {digest} cannot be scanned: {reason}")


class ScanningConfigurationInvalid(DomainError):
    """A registry scanning configuration ECR would refuse."""


class InventoryMissing(DomainError):
    """The image has not been scanned: there is no inventory to write an SBOM from."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(f"image {digest} has no inventory yet: scan it first (StartImageScan, or scan on push)")
