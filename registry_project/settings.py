"""Berth settings. Everything comes from the environment (see .env.example)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from apps.kernel.datadir import PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE, keep_private
from registry_project.hosts import allowed_hosts
from registry_project.logs import configure as configure_logs

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DATA_DIR = Path(os.environ.get("BERTH_DATA_DIR", "var")).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # The embedded default keeps a random key in the data directory, so a laptop
    # install needs no configuration and no key is ever committed.
    from apps.kernel.secrets import data_dir_secret

    SECRET_KEY = data_dir_secret(DATA_DIR, "secret_key")

# Keys that seal secrets Berth reads back (apps.kernel.sealing: upstream and
# replication credentials), comma-separated Fernet keys: the first seals, all unseal.
# Unset: one key generated once into the data directory.
BERTH_SEALING_KEYS = [key.strip() for key in os.environ.get("BERTH_SEALING_KEYS", "").split(",") if key.strip()]
if not BERTH_SEALING_KEYS:
    from apps.kernel.secrets import data_dir_secret, fernet_key

    BERTH_SEALING_KEYS = [data_dir_secret(DATA_DIR, "sealing_key", make=fernet_key)]

CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Where clients reach the registry; used in the token realm and pull commands.
# Empty means "the host the request came to".
BERTH_PUBLIC_URL = os.environ.get("BERTH_PUBLIC_URL", "").rstrip("/")
# The host names Berth answers to; unset: BERTH_PUBLIC_URL's host, else the loopback names.
ALLOWED_HOSTS = allowed_hosts(os.environ.get("ALLOWED_HOSTS", ""), BERTH_PUBLIC_URL)
BERTH_TOKEN_SERVICE = os.environ.get("BERTH_TOKEN_SERVICE", "berth-registry")
# ARNs: arn:<partition>:ecr:<region>:<account>:repository/<name>. Policies written with
# `arn:aws:` read the same, so ECR policies can be pasted in.
BERTH_ARN_PARTITION = os.environ.get("BERTH_ARN_PARTITION", "berth")
BERTH_REGION = os.environ.get("BERTH_REGION", "local")
BERTH_TOKEN_ISSUER = os.environ.get("BERTH_TOKEN_ISSUER", "berth-token-service")
BERTH_TOKEN_TTL = env_int("BERTH_TOKEN_TTL", 300)
# PEM of the RSA key that signs registry tokens; by default generated in the data dir.
BERTH_TOKEN_PRIVATE_KEY = os.environ.get("BERTH_TOKEN_PRIVATE_KEY", "")
BERTH_TOKEN_KEY_FILE = Path(os.environ.get("BERTH_TOKEN_KEY_FILE", str(DATA_DIR / "token-signing-key.pem")))
# EC key that signs schema 1 manifests converted for old Docker engines.
BERTH_SCHEMA1_KEY_FILE = Path(os.environ.get("BERTH_SCHEMA1_KEY_FILE", str(DATA_DIR / "schema1-signing-key.pem")))
# Which entry of a multi-platform index a client that cannot read indexes gets.
BERTH_DEFAULT_PLATFORM = os.environ.get("BERTH_DEFAULT_PLATFORM", "linux/amd64")
# The sign-in throttle (apps.accounts.throttle), for every place a password or key is
# checked: failures allowed per user name (or key) and client address, then per user
# name from all addresses together; past either, sign-in is refused for LOCKOUT seconds,
# doubled by each further failure up to LOCKOUT_MAX. A count is forgotten WINDOW seconds
# after its last failure (or lock). Sign-ups: so many per client address per window.
BERTH_LOGIN_FAILURES_ALLOWED = env_int("BERTH_LOGIN_FAILURES_ALLOWED", 10)
BERTH_LOGIN_FAILURES_ALLOWED_PER_USER = env_int("BERTH_LOGIN_FAILURES_ALLOWED_PER_USER", 100)
BERTH_LOGIN_FAILURE_WINDOW = env_int("BERTH_LOGIN_FAILURE_WINDOW", 300)
BERTH_LOGIN_LOCKOUT_SECONDS = env_int("BERTH_LOGIN_LOCKOUT_SECONDS", 60)
BERTH_LOGIN_LOCKOUT_MAX_SECONDS = env_int("BERTH_LOGIN_LOCKOUT_MAX_SECONDS", 3600)
BERTH_SIGNUPS_ALLOWED_PER_ADDRESS = env_int("BERTH_SIGNUPS_ALLOWED_PER_ADDRESS", 10)
BERTH_SIGNUP_WINDOW = env_int("BERTH_SIGNUP_WINDOW", 3600)
# How long a login password (GetAuthorizationToken, `docker login --username berth`) stays valid.
BERTH_LOGIN_PASSWORD_TTL = env_int("BERTH_LOGIN_PASSWORD_TTL", 12 * 3600)

# The audit trail (apps.audit). Events that change nothing (pulls, refusals) go to
# a spool file per process (BERTH_AUDIT_SPOOL_DIR, written every
# BERTH_AUDIT_SPOOL_WRITE_SECONDS; a new file past BERTH_AUDIT_SPOOL_FILE_BYTES) and an ingester writes them to the trail every
# BERTH_AUDIT_FLUSH_SECONDS, BERTH_AUDIT_FLUSH_EVENTS per transaction. The ingester
# runs in a process of its own under `berth serve` (BERTH_AUDIT_WRITER=process, which
# serve sets), otherwise in a thread of each process that spools (thread).
# BERTH_AUDIT_SYNCHRONOUS writes each one at once (tests).
BERTH_AUDIT_FLUSH_SECONDS = float(os.environ.get("BERTH_AUDIT_FLUSH_SECONDS") or 1.0)
# A pass under load holds a second of pulls (~2,000 on a small host): one transaction.
# Each batch dirties the last index page of every client address, principal, image
# and repository in it however many events it holds, so bigger batches cost less an
# event (20,000 pulls from 350 addresses on SQLite: 70-115 µs an event in batches of
# 1,000, 48-66 µs in batches of 5,000); a catching-up batch holds the chain head (and
# on SQLite the write lock) for a few hundred milliseconds.
BERTH_AUDIT_FLUSH_EVENTS = env_int("BERTH_AUDIT_FLUSH_EVENTS", 5000)
BERTH_AUDIT_SPOOL_DIR = Path(os.environ.get("BERTH_AUDIT_SPOOL_DIR", str(DATA_DIR / "audit-spool")))
BERTH_AUDIT_SPOOL_WRITE_SECONDS = float(os.environ.get("BERTH_AUDIT_SPOOL_WRITE_SECONDS") or 0.1)
BERTH_AUDIT_SPOOL_FILE_BYTES = env_int("BERTH_AUDIT_SPOOL_FILE_BYTES", 64 << 20)
BERTH_AUDIT_WRITER = os.environ.get("BERTH_AUDIT_WRITER", "thread")
if BERTH_AUDIT_WRITER not in ("thread", "process"):
    raise ImproperlyConfigured(f"BERTH_AUDIT_WRITER must be thread or process, not {BERTH_AUDIT_WRITER!r}")
# The audit writer process runs at this nice value (0..19): while the web workers
# want the CPU (a burst of pulls) it yields to them and catches up after.
BERTH_AUDIT_WRITER_NICE = env_int("BERTH_AUDIT_WRITER_NICE", 10)
if not 0 <= BERTH_AUDIT_WRITER_NICE <= 19:
    raise ImproperlyConfigured(f"BERTH_AUDIT_WRITER_NICE must be 0..19, not {BERTH_AUDIT_WRITER_NICE}")
BERTH_AUDIT_SYNCHRONOUS = env_bool("BERTH_AUDIT_SYNCHRONOUS", False)
# true: a management API or console write that succeeds without its service recording the
# audit event raises (apps.audit.events.UnrecordedChange) instead of logging an error.
# The tests set it; DEBUG implies it.
BERTH_AUDIT_STRICT = env_bool("BERTH_AUDIT_STRICT", False)
# false: read-only events (pulls, lookups, and refused reads) are not recorded, as a
# CloudTrail trail with ReadWriteType WriteOnly. Writes are always recorded.
BERTH_AUDIT_READ_EVENTS = env_bool("BERTH_AUDIT_READ_EVENTS", True)
# Days events are kept (pruned daily); 0 keeps them forever.
BERTH_AUDIT_RETENTION_DAYS = env_int("BERTH_AUDIT_RETENTION_DAYS", 365)
# Usage (docs/usage.md): daily storage snapshots and served bytes are kept this many days (0: forever).
BERTH_USAGE_RETENTION_DAYS = env_int("BERTH_USAGE_RETENTION_DAYS", 400)
# Each web process publishes the bytes its GETs served at most this often (apps/registry/traffic.py).
BERTH_USAGE_FLUSH_SECONDS = env_int("BERTH_USAGE_FLUSH_SECONDS", 60)
# Proxies (comma-separated CIDRs) whose X-Forwarded-For and X-Request-Id are believed.
BERTH_TRUSTED_PROXIES = os.environ.get("BERTH_TRUSTED_PROXIES", "")
# Failed requests from outside an account (anonymous callers, other accounts'
# principals): per account, source address (IPv6: its /64), operation and error
# code, the first BERTH_AUDIT_FAILURES_PER_SOURCE of each window of
# BERTH_AUDIT_FAILURE_WINDOW_SECONDS are recorded one by one, the rest counted into
# one aggregate event written when the window ends.
BERTH_AUDIT_FAILURES_PER_SOURCE = env_int("BERTH_AUDIT_FAILURES_PER_SOURCE", 20)
if BERTH_AUDIT_FAILURES_PER_SOURCE < 0:
    raise ImproperlyConfigured(
        f"BERTH_AUDIT_FAILURES_PER_SOURCE must be 0 or more, not {BERTH_AUDIT_FAILURES_PER_SOURCE}"
    )
BERTH_AUDIT_FAILURE_WINDOW_SECONDS = env_int("BERTH_AUDIT_FAILURE_WINDOW_SECONDS", 3600)
if BERTH_AUDIT_FAILURE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured(
        f"BERTH_AUDIT_FAILURE_WINDOW_SECONDS must be 1 or more, not {BERTH_AUDIT_FAILURE_WINDOW_SECONDS}"
    )

BERTH_UPLOAD_DIR = Path(os.environ.get("BERTH_UPLOAD_DIR", str(DATA_DIR / "uploads")))
BERTH_UPLOAD_EXPIRY_SECONDS = env_int("BERTH_UPLOAD_EXPIRY_SECONDS", 24 * 3600)
# Garbage collection (apps/registry/collector.py): bytes no repository links leave the
# store once untouched this long; a pass runs every BERTH_GC_INTERVAL_SECONDS, and the
# slower look through the store for bytes with no row every BERTH_GC_RECONCILE_SECONDS.
BERTH_GC_GRACE_SECONDS = env_int("BERTH_GC_GRACE_SECONDS", 3600)
BERTH_GC_INTERVAL_SECONDS = env_int("BERTH_GC_INTERVAL_SECONDS", 900)
BERTH_GC_RECONCILE_SECONDS = env_int("BERTH_GC_RECONCILE_SECONDS", 24 * 3600)
BERTH_MAX_MANIFEST_BYTES = env_int("BERTH_MAX_MANIFEST_BYTES", 4 * 1024 * 1024)

# JSON from clients (manifests, image configs, management API bodies): how deep it may
# nest, checked before parsing (Python's parser recurses once per level, so the
# ceiling keeps it far from the interpreter's recursion limit), and how large an API
# body may be (PutImage takes a manifest's worth more).
BERTH_MAX_JSON_DEPTH = env_int("BERTH_MAX_JSON_DEPTH", 64)
if not 1 <= BERTH_MAX_JSON_DEPTH <= 256:
    raise ImproperlyConfigured(f"BERTH_MAX_JSON_DEPTH must be 1..256, not {BERTH_MAX_JSON_DEPTH}")
BERTH_API_MAX_JSON_BYTES = env_int("BERTH_API_MAX_JSON_BYTES", 2 * 1024 * 1024)

# Vulnerability scanning: the limits a layer walk stops at (apps.scanning.inventory.Limits'
# fields; left empty, its defaults), so a hostile layer ends its scan FAILED with the reason.
BERTH_SCAN_LIMITS: dict = {}


def env_regex(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    try:
        re.compile(value)
    except re.error as exc:
        raise ImproperlyConfigured(f"{name} is not a regular expression: {exc}") from None
    return value


# Foreign (non-distributable) layers, such as Windows base layers, are accepted
# without their blob when every URL they name matches ALLOW and none matches DENY
# (Python regular expressions, searched; an empty ALLOW allows none).
BERTH_FOREIGN_LAYER_URLS_ALLOW = env_regex("BERTH_FOREIGN_LAYER_URLS_ALLOW", r"^https?://")
BERTH_FOREIGN_LAYER_URLS_DENY = env_regex("BERTH_FOREIGN_LAYER_URLS_DENY", "")

BLOB_STORAGE = os.environ.get("BLOB_STORAGE", "filesystem")
BERTH_BLOB_DIR = Path(os.environ.get("BERTH_BLOB_DIR", str(DATA_DIR / "blobs")))
# With S3, answer blob GETs with a redirect to a presigned URL instead of proxying.
BERTH_S3_REDIRECT = env_bool("BERTH_S3_REDIRECT", True)
BERTH_S3_REDIRECT_EXPIRY = env_int("BERTH_S3_REDIRECT_EXPIRY", 1200)
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
AWS_LOCATION = os.environ.get("AWS_LOCATION", "")
AWS_S3_ADDRESSING_STYLE = os.environ.get("AWS_S3_ADDRESSING_STYLE") or None
AWS_S3_SIGNATURE_VERSION = os.environ.get("AWS_S3_SIGNATURE_VERSION", "s3v4")
# With S3, uploads are S3 multipart uploads (BERTH_UPLOAD_DIR is not used): the size
# of a part in bytes (S3's minimum is 5 MiB; parts grow past the 1,000th, see
# docs/storage.md). Each request writing to an upload holds up to a part in memory.
BERTH_S3_UPLOAD_PART_SIZE = env_int("BERTH_S3_UPLOAD_PART_SIZE", 8 * 1024 * 1024)
if BERTH_S3_UPLOAD_PART_SIZE < 5 * 1024 * 1024:
    raise ImproperlyConfigured(
        f"BERTH_S3_UPLOAD_PART_SIZE must be at least 5242880 (S3's minimum part), not {BERTH_S3_UPLOAD_PART_SIZE}"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Full-text search and trigram lookups for the gallery (inert on SQLite).
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "apps.events",
    "apps.accounts",
    "apps.repositories",
    "apps.registry",
    "apps.iam",
    "apps.audit",
    "apps.api",
    "apps.gallery",
    "apps.scanning",
    "apps.usage",
    "apps.lifecycle",
    "apps.replication",
    "apps.webhooks",
    "apps.console",
    "apps.aws",
    # The project's own commands: `berth serve`, `worker`, `beat`, and `migrate` under a lock.
    "registry_project",
]

MIDDLEWARE = [
    # First: everything after it (HSTS, the SSL redirect, the token realm) sees the scheme a trusted proxy reports.
    "registry_project.proxies.ForwardedSchemeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "registry_project.page_policy.PagePolicyMiddleware",
    "apps.audit.middleware.AuditMiddleware",
    # Right after the request gets its id: counts it (route, status, latency, bytes) and logs with the id.
    "registry_project.metrics.RequestMetricsMiddleware",
    "registry_project.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "registry_project.urls"
# /v2/ paths are exact: never redirect a registry client to a slash-appended URL.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "registry_project.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "berth.sqlite3", "CONN_MAX_AGE": 600}
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers run beside the one writer; IMMEDIATE takes the write
            # lock at BEGIN so concurrent writers queue (up to the timeout) instead
            # of failing with "database is locked" when a read upgrades to a write.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Shared by every process of the embedded install (login throttling must be).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# The model backend, closed to users of a suspended account (their sessions too).
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.AccountStandingBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/console"
LOGOUT_REDIRECT_URL = "/"

# Password resets and alias decisions are mailed; the console backend prints them.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Berth <berth@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts the files whitenoise serves (the image collects them at build time).
STATIC_ROOT = Path(os.environ.get("BERTH_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The management API (/api/v1/). Programs sign requests with an access key (HTTP
# Basic) or a login password (Bearer); browsers with their session (CSRF checked).
# Requests are throttled per signed-in user, and per client address for anonymous ones.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: it takes only temporary key ids (BSIA...), which AccessKeyAuthentication would refuse.
        "apps.iam.authentication.TemporaryCredentialsAuthentication",
        "apps.api.authentication.AccessKeyAuthentication",
        "apps.api.authentication.LoginPasswordAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.api.throttling.PrincipalRateThrottle",
        "apps.api.throttling.AddressRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("BERTH_API_THROTTLE_USER", "1200/minute"),
        "anon": os.environ.get("BERTH_API_THROTTLE_ANON", "60/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "apps.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Berth API",
    "DESCRIPTION": "The management API of Berth, a self-hosted container registry modelled on Amazon ECR. "
    "Each operation names the ECR (or IAM) operation it stands for. Errors are JSON with a stable `code`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name with another get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "AccessKeyStatusEnum": "apps.accounts.models.AccessKeyStatus",
        "RegistryAliasStatusEnum": "apps.accounts.registries.RegistryAliasStatus",
        "LogoContentTypeEnum": "apps.repositories.models.LogoContentType",
        "LifecyclePreviewStatusEnum": "apps.lifecycle.models.PreviewStatus",
    },
}

# A task's message stays with the broker until the task has run (acks late), and a
# task whose pool process died goes back on the queue: a worker killed mid-task loses
# no post-push work (every task is idempotent, so running one twice is harmless).
# On Redis a message handed to a worker that died returns to the queue when it has
# been out BERTH_CELERY_VISIBILITY_TIMEOUT seconds (looked for when a worker starts,
# and every ~100 s): keep it longer than any task runs, or a slow task runs twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
BERTH_CELERY_VISIBILITY_TIMEOUT = env_int("BERTH_CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_URL = REDIS_URL or "berth-filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": BERTH_CELERY_VISIBILITY_TIMEOUT}
    if REDIS_URL
    else {
        "data_folder_in": str(DATA_DIR / "broker" / "queue"),
        "data_folder_out": str(DATA_DIR / "broker" / "queue"),
        "control_folder": str(DATA_DIR / "broker" / "control"),
        "store_processed": False,
    }
)
# Installations sharing one Redis keep their work apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("BERTH_CELERY_QUEUE", "berth")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "expire-abandoned-uploads": {
        "task": "apps.registry.tasks.expire_abandoned_uploads",
        "schedule": env_int("BERTH_UPLOAD_SWEEP_SECONDS", 3600),
    },
    "collect-garbage": {
        "task": "apps.registry.tasks.collect_garbage",
        "schedule": BERTH_GC_INTERVAL_SECONDS,
    },
    "reconcile-blob-store": {
        "task": "apps.registry.tasks.reconcile_blob_store",
        "schedule": BERTH_GC_RECONCILE_SECONDS,
    },
    "prune-audit-events": {
        "task": "apps.audit.tasks.prune_events",
        "schedule": 24 * 3600,
    },
    # Domain events a process left undelivered, and failed deliveries whose retry is due.
    "deliver-domain-events": {
        "task": "apps.events.tasks.deliver_due_events",
        "schedule": env_int("BERTH_EVENTS_SWEEP_SECONDS", 30),
    },
    # Each account's stored bytes near the end of the day (UTC); taken again, a day's replaces its last.
    "take-usage-snapshot": {
        "task": "apps.usage.tasks.take_snapshot",
        "schedule": crontab(minute=50, hour=23),
    },
    # Lifecycle policies expire what they condemn once a day, as ECR does (docs/lifecycle.md).
    "run-lifecycle-policies": {
        "task": "apps.lifecycle.tasks.run_lifecycle_policies",
        "schedule": env_int("BERTH_LIFECYCLE_RUN_SECONDS", 24 * 3600),
    },
}

# Networks the outbound client (replication to other registries, the pull-through
# cache's upstreams) never connects to, comma-separated, checked on the address each
# connection reaches (after DNS, redirects included): by default the link-local
# networks and the clouds' instance-metadata addresses. Add private ranges
# (10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7) where tenants
# must not reach the internal network.
BERTH_OUTBOUND_DENIED_NETWORKS = [
    network.strip()
    for network in os.environ.get(
        "BERTH_OUTBOUND_DENIED_NETWORKS", "169.254.0.0/16,fe80::/10,100.100.100.200/32,fd00:ec2::254/128"
    ).split(",")
    if network.strip()
]

# -- Replication (apps/replication, docs/replication.md) ---------------------------------
# Tries of one copy before it is FAILED for good (the dead letter a user retries).
BERTH_REPLICATION_MAX_ATTEMPTS = env_int("BERTH_REPLICATION_MAX_ATTEMPTS", 8)
# Back-off between tries: the first waits up to BASE seconds, each next twice as long, at most MAX.
BERTH_REPLICATION_RETRY_BASE_SECONDS = float(os.environ.get("BERTH_REPLICATION_RETRY_BASE_SECONDS") or 10)
BERTH_REPLICATION_RETRY_MAX_SECONDS = float(os.environ.get("BERTH_REPLICATION_RETRY_MAX_SECONDS") or 600)
# A worker's claim on a copy; a copy whose worker died is taken up again once it runs out.
BERTH_REPLICATION_LEASE_SECONDS = env_int("BERTH_REPLICATION_LEASE_SECONDS", 900)
# A due copy queued this long ago and not started is queued again (its task was lost).
BERTH_REPLICATION_REQUEUE_SECONDS = env_int("BERTH_REPLICATION_REQUEUE_SECONDS", 300)
# How often beat looks for such copies.
BERTH_REPLICATION_SWEEP_SECONDS = env_int("BERTH_REPLICATION_SWEEP_SECONDS", 30)
# The outbound client's timeout per request, and its own tries of one request before a copy's try fails.
BERTH_REPLICATION_TIMEOUT_SECONDS = float(os.environ.get("BERTH_REPLICATION_TIMEOUT_SECONDS") or 30)
BERTH_REPLICATION_CLIENT_ATTEMPTS = env_int("BERTH_REPLICATION_CLIENT_ATTEMPTS", 3)
CELERY_BEAT_SCHEDULE["requeue-due-replications"] = {
    "task": "apps.replication.tasks.requeue_due_replications",
    "schedule": BERTH_REPLICATION_SWEEP_SECONDS,
}

# -- Webhooks (apps/webhooks, docs/webhooks.md) -------------------------------------------
# Networks webhook endpoints may reach although they are loopback, private or link-local
# (refused by default, against SSRF), comma-separated: e.g. 127.0.0.0/8 for a local receiver.
BERTH_WEBHOOK_ALLOWED_NETWORKS = [
    network.strip() for network in os.environ.get("BERTH_WEBHOOK_ALLOWED_NETWORKS", "").split(",") if network.strip()
]
# Seconds a delivery's request may take.
BERTH_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("BERTH_WEBHOOK_TIMEOUT_SECONDS") or 10)
# Tries of one delivery before it is FAILED (a user may redeliver it).
BERTH_WEBHOOK_MAX_ATTEMPTS = env_int("BERTH_WEBHOOK_MAX_ATTEMPTS", 8)
# Back-off between tries: the first waits up to BASE seconds, each next twice as long, at most MAX.
BERTH_WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("BERTH_WEBHOOK_RETRY_BASE_SECONDS") or 10)
BERTH_WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("BERTH_WEBHOOK_RETRY_MAX_SECONDS") or 3600)
# How often beat queues again the due tries whose task was lost.
BERTH_WEBHOOK_SWEEP_SECONDS = env_int("BERTH_WEBHOOK_SWEEP_SECONDS", 30)
CELERY_BEAT_SCHEDULE["requeue-due-webhook-deliveries"] = {
    "task": "apps.webhooks.tasks.requeue_due_deliveries",
    "schedule": BERTH_WEBHOOK_SWEEP_SECONDS,
}
# Days a finished delivery stays in an endpoint's log (pruned daily by beat); 0 keeps them forever.
BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS", 30)
CELERY_BEAT_SCHEDULE["prune-webhook-deliveries"] = {
    "task": "apps.webhooks.tasks.prune_deliveries",
    "schedule": 24 * 3600,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "filters": {"refused_host": {"()": "registry_project.hosts.RefusedHostLogFilter"}},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"filters": ["refused_host"]},
    },
}

BERTH_WEB_WORKERS = env_int("BERTH_WEB_WORKERS", os.cpu_count() or 1)
BERTH_WEB_THREADS = env_int("BERTH_WEB_THREADS", 8)
BERTH_WORKER_CONCURRENCY = env_int("BERTH_WORKER_CONCURRENCY", 2)
# Seconds each stage of `berth serve`'s stop (web, then worker and scheduler, then the
# audit writer) may take before the stage's process groups are killed.
BERTH_STOP_GRACE_SECONDS = float(os.environ.get("BERTH_STOP_GRACE_SECONDS") or 20)

# -- Behind TLS, and private data files --------------------------------------------------
# A request is https when it came over TLS, or when a proxy of BERTH_TRUSTED_PROXIES says
# so in X-Forwarded-Proto (registry_project.proxies); Django's SECURE_PROXY_SSL_HEADER
# would believe any client. With an https BERTH_PUBLIC_URL the session and CSRF cookies
# are Secure and responses over https carry HSTS (a year; no subdomains, no preload,
# unless asked). SECURE_SSL_REDIRECT sends plain-http requests to https.
PUBLIC_URL_IS_HTTPS = BERTH_PUBLIC_URL.lower().startswith("https://")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PUBLIC_URL_IS_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PUBLIC_URL_IS_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PUBLIC_URL_IS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# SecurityMiddleware's defaults, said here so that nobody loses them unawares.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page: scripts, styles, fonts and frames from Berth itself only, no inline
# script or style, never framed. Images may be data: URLs (Swagger UI's icons). The
# repository page widens this for the Markdown it shows (apps.gallery.views); the
# registry's own paths go without (registry_project.page_policy).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# 0600 files in 0700 directories (apps.kernel.datadir), for the storage API's
# writers (collectstatic) as for every other.
FILE_UPLOAD_PERMISSIONS = PRIVATE_FILE_MODE
FILE_UPLOAD_DIRECTORY_PERMISSIONS = PRIVATE_DIRECTORY_MODE
keep_private([DATA_DIR, BERTH_UPLOAD_DIR, BERTH_AUDIT_SPOOL_DIR, BERTH_BLOB_DIR])

# Slow clients (registry_project/gunicorn_worker.py): seconds for a request's head,
# the longest silence within a body (and the grace before its minimum rate), and
# that minimum rate in bytes a second; a client slower than these gets 408.
BERTH_CLIENT_HEADER_TIMEOUT = env_int("BERTH_CLIENT_HEADER_TIMEOUT", 10)
BERTH_CLIENT_BODY_TIMEOUT = env_int("BERTH_CLIENT_BODY_TIMEOUT", 10)
BERTH_CLIENT_BODY_MIN_RATE = env_int("BERTH_CLIENT_BODY_MIN_RATE", 32 * 1024)

# The pull-through cache (docs/pull-through-cache.md): a rule's default seconds
# between re-checks of a cached tag upstream; how long a pull waits for another
# request fetching the same manifest or blob before it answers 429; the timeout of
# each request to an upstream, and how many tries a first fetch makes.
BERTH_PULL_THROUGH_TAG_RECHECK_SECONDS = env_int("BERTH_PULL_THROUGH_TAG_RECHECK_SECONDS", 300)
BERTH_PULL_THROUGH_WAIT_SECONDS = env_int("BERTH_PULL_THROUGH_WAIT_SECONDS", 120)
BERTH_PULL_THROUGH_UPSTREAM_TIMEOUT = env_int("BERTH_PULL_THROUGH_UPSTREAM_TIMEOUT", 30)
BERTH_PULL_THROUGH_UPSTREAM_ATTEMPTS = env_int("BERTH_PULL_THROUGH_UPSTREAM_ATTEMPTS", 3)

# Pull limits (apps/registry/limits.py, docs/pull-limits.md): manifest GETs and HEADs
# and referrers under /v2/ (not the layers that follow), as requests per second sustained (RATE, a
# decimal) with BURST at once; anonymous callers per client address, signed-in ones
# per principal. 0 disables either. Counted in Redis when REDIS_URL is set, else in
# each web worker's memory. ECR Public's figures: 1/s anonymous, 10/s signed in.
BERTH_PULL_RATE_ANONYMOUS = float(os.environ.get("BERTH_PULL_RATE_ANONYMOUS") or 1)
BERTH_PULL_BURST_ANONYMOUS = env_int("BERTH_PULL_BURST_ANONYMOUS", 10)
BERTH_PULL_RATE_AUTHENTICATED = float(os.environ.get("BERTH_PULL_RATE_AUTHENTICATED") or 10)
BERTH_PULL_BURST_AUTHENTICATED = env_int("BERTH_PULL_BURST_AUTHENTICATED", 100)

# Quotas (docs/quotas.md): the deployment's default limits of every account, which
# staff override per account in the admin (Account quotas). 0 is unlimited. Enforced
# on push with the OCI error DENIED naming the quota; repositories also on creation.
BERTH_QUOTA_STORAGE_BYTES = env_int("BERTH_QUOTA_STORAGE_BYTES", 0)
BERTH_QUOTA_REPOSITORIES = env_int("BERTH_QUOTA_REPOSITORIES", 0)
BERTH_QUOTA_IMAGES_PER_REPOSITORY = env_int("BERTH_QUOTA_IMAGES_PER_REPOSITORY", 0)

# Encryption at rest (docs/encryption.md). A new repository's setting when its
# creator names none: "" (none) or "AES256". Master keys (comma-separated, 32 bytes
# each in URL-safe base64; the first wraps, every one unwraps) wrap the filesystem
# store's AES256 data keys and the key ring's keys; unset: one created once in the
# data directory. The key ring holds the named keys of KMS repositories on the filesystem.
BERTH_DEFAULT_ENCRYPTION = os.environ.get("BERTH_DEFAULT_ENCRYPTION", "").strip().upper()
if BERTH_DEFAULT_ENCRYPTION not in ("", "AES256"):
    raise ImproperlyConfigured("BERTH_DEFAULT_ENCRYPTION must be empty (no encryption) or AES256")
BERTH_ENCRYPTION_MASTER_KEYS = [
    key.strip() for key in os.environ.get("BERTH_ENCRYPTION_MASTER_KEYS", "").split(",") if key.strip()
]
if not BERTH_ENCRYPTION_MASTER_KEYS:
    from apps.kernel.secrets import data_dir_secret, fernet_key

    BERTH_ENCRYPTION_MASTER_KEYS = [data_dir_secret(DATA_DIR, "encryption_master_key", make=fernet_key)]
BERTH_KEY_RING_FILE = Path(os.environ.get("BERTH_KEY_RING_FILE", str(DATA_DIR / "key-ring.json")))

# -- Metrics, health and logs (registry_project/metrics.py, ops.py, health.py, logs.py; docs/operations.md) --
# /metrics on the web listener needs `Authorization: Bearer <BERTH_METRICS_TOKEN>`; unset, it is 404 there.
BERTH_METRICS_TOKEN = os.environ.get("BERTH_METRICS_TOKEN", "")
# host:port of a separate listener for /metrics (and the probes), run by `berth serve` (every process's
# counters and the state) and by `berth worker` (its own task counters); unset: none.
BERTH_METRICS_BIND = os.environ.get("BERTH_METRICS_BIND", "")
# Where the processes of `berth serve` and `berth worker` keep their counters (prometheus_client's
# multiprocess files, emptied at start): serve in <dir>/serve, worker in <dir>/worker.
BERTH_METRICS_DIR = Path(os.environ.get("BERTH_METRICS_DIR", str(DATA_DIR / "metrics")))
# Seconds /readyz waits for its checks (database, Redis, blob store, audit spool) together.
BERTH_READYZ_TIMEOUT_SECONDS = float(os.environ.get("BERTH_READYZ_TIMEOUT_SECONDS") or 2)
# text (the default) or json: one JSON object a line, with the request id, for the web, worker and beat.
BERTH_LOG_FORMAT = os.environ.get("BERTH_LOG_FORMAT", "text") or "text"
if BERTH_LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"BERTH_LOG_FORMAT must be text or json, not {BERTH_LOG_FORMAT!r}")
LOGGING = configure_logs(LOGGING, BERTH_LOG_FORMAT)
if BERTH_LOG_FORMAT == "json":
    # Python's warnings (a library's DeprecationWarning, Celery's as root) as log records too
    logging.captureWarnings(True)
