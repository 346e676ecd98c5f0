"""`berth iam`, `berth sts` and `berth repo policy`, run as the real executable
against a live server: users, policies, attachments, roles, the simulator's exit
status, repository policies, and temporary credentials used through the environment."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

import pytest

from tests.cli.test_cli_e2e import Cli, _new_user
from tests.e2e import images as I
from tests.e2e.conftest import need, run_isolated

# The client's side of each command; the server's answers are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


@pytest.fixture
def cli(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "IAM Co")
    user.configure()
    return user


def _write(cli: Cli, name: str, document: dict) -> str:
    path = cli.home / name
    path.write_text(json.dumps(document))
    return str(path)


def test_users_policies_and_attachments(cli):
    account = cli.account.account_id
    created = cli.json("iam", "users", "create", "builder")
    assert created["arn"] == f"arn:berth:iam::{account}:user/builder"
    listed = cli.ok("iam", "users", "list").splitlines()
    assert listed[0].split()[:3] == ["USER", "ROOT", "ARN"]
    assert any(line.split()[:2] == ["builder", "false"] for line in listed[1:])
    key = cli.json("iam", "users", "create-access-key", "builder")
    assert key["accessKeyId"].startswith("BKIA")

    document = _write(
        cli,
        "pull.json",
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "Pull", "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}],
        },
    )
    assert cli.json("iam", "policies", "create", "--name", "Pull", "--document", document)["policyName"] == "Pull"
    assert "ecr:BatchGetImage" in cli.ok("iam", "policies", "get", "Pull")
    assert "BerthRegistryReadOnly" in cli.ok("iam", "policies", "list")
    bad = _write(
        cli, "bad.json", {"Statement": [{"Sid": "X", "Effect": "Allow", "Action": "ecr:Fly", "Resource": "*"}]}
    )
    assert "Statement 1 (Sid \"X\"): unknown action 'ecr:Fly'" in cli.fails(
        "iam", "policies", "create", "--name", "Bad", "--document", bad
    )

    attached = cli.json("iam", "attach-policy", "--user", "builder", "--policy", "Pull")
    assert [p["policyName"] for p in attached["attachedPolicies"]] == ["Pull"]
    cli.ok("iam", "attach-policy", "--user", "builder", "--policy", "AmazonEC2ContainerRegistryReadOnly")
    assert "still attached" in cli.fails("iam", "policies", "delete", "Pull")
    cli.ok("iam", "detach-policy", "--user", "builder", "--policy", "Pull")
    cli.ok("iam", "detach-policy", "--user", "builder", "--policy", "arn:berth:iam::berth:policy/BerthRegistryReadOnly")
    assert cli.json("iam", "list-attached-policies", "--user", "builder") == {"attachedPolicies": []}
    assert cli.ok("iam", "policies", "delete", "Pull") == "Deleted policy Pull.\n"
    assert cli.ok("iam", "users", "delete", "builder") == "Deleted user builder.\n"


def test_simulate_exit_status(cli):
    account = cli.account.account_id
    cli.ok("iam", "users", "create", "dev", "-o", "json")
    cli.ok("iam", "attach-policy", "--user", "dev", "--policy", "BerthRegistryReadOnly", "-o", "json")
    args = (
        "iam",
        "simulate",
        "--principal",
        f"arn:berth:iam::{account}:user/dev",
        "--resource",
        f"arn:berth:ecr:local:{account}:repository/app",
    )
    allowed = cli.run(*args, "--action", "ecr:BatchGetImage")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("ecr:BatchGetImage: allowed by BerthRegistryReadOnly statement 1\n")
    denied = cli.run(*args, "--action", "ecr:BatchGetImage", "--action", "ecr:PutImage")
    assert denied.returncode == 3
    assert "ecr:PutImage: implicit_deny\n" in denied.stdout
    assert "unknown action 'ecr:Nope'" in cli.fails(*args, "--action", "ecr:Nope")


def test_repository_policy_commands(cli):
    cli.server.create_repository(cli.account.account_id, "team/app")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
    }
    path = _write(cli, "repo-policy.json", policy)
    assert cli.ok("repo", "policy", "set", "team/app", "--file", path) == "Set the policy of team/app.\n"
    assert json.loads(cli.ok("repo", "policy", "get", "team/app")) == policy
    assert cli.ok("repo", "policy", "delete", "team/app") == "Deleted the policy of team/app.\n"
    assert "has no repository policy" in cli.fails("repo", "policy", "get", "team/app")


def test_assume_role_and_use_the_credentials(cli):
    account = cli.account.account_id
    trust = _write(
        cli,
        "trust.json",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}],
        },
    )
    role = cli.json(
        "iam", "roles", "create", "--name", "Deployer", "--trust-policy", trust, "--max-session-duration", "7200"
    )
    assert role["arn"] == f"arn:berth:iam::{account}:role/Deployer" and role["maxSessionDuration"] == 7200
    assert "Deployer" in cli.ok("iam", "roles", "list")
    assert f'"AWS": "{account}"' in cli.ok("iam", "roles", "get", "Deployer")
    cli.ok("iam", "roles", "update-trust-policy", "Deployer", "--trust-policy", trust, "-o", "json")
    cli.ok("iam", "attach-policy", "--role", "Deployer", "--policy", "BerthRegistryReadOnly", "-o", "json")

    exports = cli.ok(
        "sts", "assume-role", "--role-arn", role["arn"], "--session-name", "ci-1", "--duration", "900", "--export"
    )
    env = {}
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    assert set(env) == {"BERTH_ACCESS_KEY_ID", "BERTH_SECRET_ACCESS_KEY", "BERTH_SESSION_TOKEN"}
    assert env["BERTH_ACCESS_KEY_ID"].startswith("BSIA")
    identity = cli.json("sts", "get-caller-identity", env=env)
    assert identity["arn"] == f"arn:berth:sts::{account}:assumed-role/Deployer/ci-1"
    # The role may read, not manage IAM.
    assert "access_denied" in cli.fails("iam", "users", "list", env=env)
    without_token = {**env, "BERTH_SESSION_TOKEN": ""}
    assert "X-Berth-Security-Token" in cli.fails("sts", "get-caller-identity", env=without_token)

    cli.ok("iam", "roles", "delete", "Deployer")
    assert "session has ended" in cli.fails("sts", "get-caller-identity", env=env)


def test_iam_users_of_two_accounts_share_a_name_and_sign_in_naming_their_account(berth, tmp_path):
    """`alice` in two accounts: each configures the CLI and logs skopeo in as
    `<account id or alias>/alice`; `alice` alone names no one."""
    need("skopeo")
    image = I.build_oci_image(tmp_path / "oci", tag="v1")
    alices = []
    for number, (company, names_account_by) in enumerate((("Alice A Co", "account_id"), ("Alice B Co", "alias"))):
        root = _new_user(berth, tmp_path / f"root-{number}", company)
        root.configure()
        password = f"alices-passphrase-in-account-{number}"
        created = json.loads(
            root.ok("iam", "users", "create", "alice", "--password-stdin", "-o", "json", input=password + "\n")
        )
        assert created["arn"] == f"arn:berth:iam::{root.account.account_id}:user/alice"
        rights = _write(
            root,
            "rights.json",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["ecr:*", "iam:CreateAccessKey"], "Resource": "*"}],
            },
        )
        root.ok("iam", "policies", "create", "--name", "AliceRights", "--document", rights, "-o", "json")
        root.ok("iam", "attach-policy", "--user", "alice", "--policy", "AliceRights", "-o", "json")
        sign_in_name = f"{getattr(root.account, names_account_by)}/alice"
        alice_account = replace(root.account, username=sign_in_name, password=password)
        (tmp_path / f"alice-{number}").mkdir()
        alices.append(Cli(berth, alice_account, tmp_path / f"alice-{number}"))

    for alice in alices:
        account = alice.account.account_id
        assert f"Signed in as {alice.account.username}" in alice.configure()
        assert alice.json("sts", "get-caller-identity")["arn"] == f"arn:berth:iam::{account}:user/alice"
        skopeo_dir = tmp_path / f"skopeo-{account}"
        run_isolated(
            [
                "skopeo",
                "login",
                "--tls-verify=false",
                "--username",
                alice.account.username,
                "--password-stdin",
                berth.host,
            ],
            skopeo_dir,
            input=alice.account.password + "\n",
        )
        run_isolated(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                f"oci:{image.path}:v1",
                f"docker://{berth.host}/{account}/team/app:v1",
            ],
            skopeo_dir,
        )
        assert alice.json("repo", "describe", "team/app")["imageCount"] == 1

    first = alices[0]
    refused = first.fails(
        "configure",
        "--endpoint",
        berth.url,
        "--username",
        "alice",
        "--password-stdin",
        input=first.account.password + "\n",
    )
    assert "incorrect username or password" in refused
    other_account = f"{alices[1].account.account_id}/alice"
    refused = first.fails(
        "configure",
        "--endpoint",
        berth.url,
        "--username",
        other_account,
        "--password-stdin",
        input=first.account.password + "\n",
    )
    assert "incorrect username or password" in refused
    login = run_isolated(
        ["skopeo", "login", "--tls-verify=false", "--username", "alice", "--password-stdin", berth.host],
        tmp_path / "skopeo-bare",
        input=first.account.password + "\n",
        check=False,
    )
    assert login.returncode != 0
