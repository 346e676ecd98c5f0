"""Replication's tables (``replication.py``) and the pull-through cache's (``cache.py``)."""

from .cache import CachedTag, PullThroughCacheRule, UpstreamFetchLease

__all__ = ["CachedTag", "PullThroughCacheRule", "UpstreamFetchLease"]
