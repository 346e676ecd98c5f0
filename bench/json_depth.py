"""What measuring the nesting depth of client JSON costs (apps.kernel.json_limits):
check_depth beside json.loads on the same bytes, for a typical manifest and for
manifests at the 4 MiB limit, and on hostile bodies that are refused.

    python bench/json_depth.py [--repeat 7]

Each figure is the best of --repeat timings of a loop long enough to take ~0.2 s
(the best is the least disturbed by the rest of a shared machine)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apps.kernel.json_limits import JSONTooDeep, check_depth  # noqa: E402

MAX_DEPTH = 64
LIMIT = 4 * 1024 * 1024


def manifest(layers: int, *, tricky_annotations: bool = False) -> bytes:
    """An OCI image manifest as podman writes it (indented), with ``layers`` layers;
    ``tricky_annotations`` gives every layer an annotation full of brackets, quotes
    and backslashes (the check's slowest benign input)."""

    def annotations(i: int) -> dict:
        title = f'layer [{i}] "{{x}}" \\' if tricky_annotations else f"layer-{i}.tar.gz"
        return {"org.opencontainers.image.title": title}

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + "c" * 64,
                "size": 1469,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
                    "size": 1000 + i,
                    "annotations": annotations(i),
                }
                for i in range(layers)
            ],
            "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"},
        },
        indent=3,
    ).encode()


def at_limit(**kwargs) -> bytes:
    low, high = 1, 100_000
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(manifest(middle, **kwargs)) <= LIMIT else (low, middle)
    return manifest(low, **kwargs)


def best_microseconds(function, repeat: int) -> float:
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    number = max(1, number)
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def refused(document: bytes) -> None:
    try:
        check_depth(document, MAX_DEPTH)
    except JSONTooDeep:
        return
    raise AssertionError("a hostile body was not refused")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    benign = [
        ("typical manifest (2 layers)", manifest(2)),
        ("typical manifest (8 layers)", manifest(8)),
        ("4 MiB manifest", at_limit()),
        ('4 MiB manifest, ["\\ in every layer', at_limit(tricky_annotations=True)),
    ]
    print(f"{'document':40} {'bytes':>9} {'check_depth µs':>15} {'json.loads µs':>14} {'ratio':>7}")
    for label, document in benign:
        check = best_microseconds(lambda document=document: check_depth(document, MAX_DEPTH), repeat)
        parse = best_microseconds(lambda document=document: json.loads(document), repeat)
        print(f"{label:40} {len(document):9} {check:15.1f} {parse:14.1f} {check / parse:7.1%}")
    hostile = [
        ("10,000 [", b"[" * 10_000),
        ("100,000 [", b"[" * 100_000),
        ("4 MiB of [", b"[" * LIMIT),
        ("4 MiB of [] pairs, then 65 [", b"[]" * (LIMIT // 2 - 40) + b"[" * 65),
        ("4 MiB: chains 64 deep in an array", b"[" + b",".join([b"[" * 64 + b"]" * 64] * (LIMIT // 129)) + b"]"),
    ]
    print(f"\n{'hostile body (refused)':40} {'bytes':>9} {'check_depth µs':>15}")
    for label, document in hostile:
        refused(document)
        print(
            f"{label:40} {len(document):9} {best_microseconds(lambda document=document: refused(document), repeat):15.1f}"
        )


if __name__ == "__main__":
    main()
