"""The pulls among a batch of audit events, as the images.pulled domain event tells
them (published by apps.audit.recorder with each batch it writes): the successful
GETs of a manifest (not HEADs), counted per repository, reference, media type and
day. Pulls reach their counters this way, off the pull path."""

from __future__ import annotations

from collections.abc import Iterable

PULL_EVENT = "BatchGetImage"


def images_pulled(events: Iterable) -> list[dict]:
    """The pulls of ``events`` (the recorder's rows, or drafts), aggregated:
    [{accountId, repository, tag, digest, mediaType, day, count, lastPulledAt}].
    ``tag`` is "" for a pull by digest; ``digest`` is the one served."""
    counted: dict[tuple, list] = {}
    for event in events:
        if event.event_name != PULL_EVENT or event.error_code or not (event.recipient_account_id and event.repository):
            continue
        parameters = event.request_parameters
        if parameters.get("httpMethod") == "HEAD":
            continue
        elements = event.response_elements
        moment = event.event_time
        key = (
            event.recipient_account_id, event.repository, str(parameters.get("imageTag") or ""),
            str(elements.get("imageDigest") or ""), str(elements.get("imageManifestMediaType") or ""), moment.date(),
        )  # fmt: skip
        seen = counted.get(key)
        if seen is None:
            counted[key] = [1, moment]
        else:
            seen[0] += 1
            seen[1] = max(seen[1], moment)
    return [
        {
            "accountId": account_id,
            "repository": repository,
            "tag": tag,
            "digest": digest,
            "mediaType": media_type,
            "day": day.isoformat(),
            "count": count,
            "lastPulledAt": last.isoformat(),
        }
        for (account_id, repository, tag, digest, media_type, day), (count, last) in counted.items()
    ]
