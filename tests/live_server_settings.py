"""Settings for the live servers the tests start: Berth's own, with a fast password
hasher. A production hasher spends ~0.3 s of CPU on every password check (each
sign-in, token and key minting with a password), which is what it is for; the tests
make hundreds of them, and none of them tests the hasher (apps/ does the same with
its own fixture)."""

from registry_project.settings import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Mail is written to files in the server's data directory (one file a message), where
# browser tests read the links Berth mails (the sign-up's email verification).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = DATA_DIR / "mail"  # noqa: F405
