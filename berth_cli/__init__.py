"""The `berth` command line client: talks to a Berth server's management API
(`/api/v1/`) and writes registry logins. A client only: no Django here, so it runs
anywhere `requests`, `click` and `rich` do."""

# The command words that belong to the client; `berth <anything else>` is a server
# (Django management) command. Kept here so the dispatcher need not import the client.
COMMANDS = frozenset(
    {
        "configure",
        "get-login-password",
        "login",
        "repo",
        "images",
        "registry",
        "access-keys",
        "iam",
        "sts",
        "audit",
        "usage",
        "pull-through-cache",
        "webhooks",
    }
)
