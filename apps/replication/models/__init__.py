"""Replication's tables (``replication.py``) and the pull-through cache's (``cache.py``)."""
