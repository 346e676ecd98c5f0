"""The real AWS CLI (`aws` from this venv, awscli in requirements.txt) against a
live server, as a user runs it: `--endpoint-url` naming Berth, region `local`,
credentials in an isolated ~/.aws (nothing of the host's AWS configuration is
read), a role profile (`role_arn` + `source_profile`) whose assume-role call goes
to Berth's STS through the profile's `endpoint_url` or AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import images as I
from tests.e2e.conftest import need, run_isolated

from .conftest import REGION, AwsAccount
from .roles import create_role, role_arn, root_arn

# The AWS CLI's plumbing does not depend on the database: one pass runs it.
pytestmark = pytest.mark.database_independent

AWS = Path(sys.executable).parent / "aws"
TIMEOUT = 120


class AwsCli:
    """`aws` with its own HOME, config and credentials files; ``profiles`` are
    further `[profile <name>]` sections of the config file."""

    def __init__(self, aws_account: AwsAccount, home: Path, profiles: dict[str, dict[str, str]] | None = None):
        if not AWS.exists():
            pytest.fail(f"{AWS} not found: pip install -r requirements.txt into this venv")
        self.url = aws_account.server.url
        home.mkdir(parents=True, exist_ok=True)
        config = home / "config"
        credentials = home / "credentials"
        sections = [f"[default]\nregion = {REGION}\noutput = json\n"]
        for name, settings in (profiles or {}).items():
            sections.append(f"[profile {name}]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))
        config.write_text("\n".join(sections))
        credentials.write_text(
            "[default]\n"
            f"aws_access_key_id = {aws_account.access_key_id}\n"
            f"aws_secret_access_key = {aws_account.secret_access_key}\n"
        )
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        self.env.update(
            {
                "HOME": str(home),
                "AWS_CONFIG_FILE": str(config),
                "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
                "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service for credentials
                "AWS_MAX_ATTEMPTS": "1",
                "AWS_RETRY_MODE": "standard",
            }
        )
        self.home = home

    def command(self, *args: str, endpoint: bool = True) -> list[str]:
        return [str(AWS), *args, *(["--endpoint-url", self.url] if endpoint else [])]

    def shell_command(self, *args: str) -> str:
        """The command for a shell pipeline, with only this CLI's environment (what
        the test process's own AWS_* variables say does not reach it)."""
        environment = {name: value for name, value in self.env.items() if name.startswith("AWS_")}
        environment.update(PATH=self.env.get("PATH", os.defpath), HOME=self.env["HOME"])
        assignments = [f"{name}={value}" for name, value in environment.items()]
        return " ".join(map(shlex.quote, ["env", "-i", *assignments, *self.command(*args)]))

    def run(self, *args: str, endpoint: bool = True, env: dict | None = None, check: bool = True):
        result = subprocess.run(
            self.command(*args, endpoint=endpoint),
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"aws {' '.join(args)} failed (rc={result.returncode})\n--- stdout\n{result.stdout[-3000:]}\n"
                f"--- stderr\n{result.stderr[-3000:]}"
            )
        return result

    def json(self, *args: str, **kwargs) -> dict:
        return json.loads(self.run(*args, **kwargs).stdout)

    def refused(self, *args: str, **kwargs) -> str:
        """The error a command that must fail prints."""
        result = self.run(*args, check=False, **kwargs)
        assert result.returncode != 0, f"aws {' '.join(args)} succeeded:\n{result.stdout[-2000:]}"
        assert "Traceback" not in result.stderr, result.stderr
        return result.stderr


@pytest.fixture
def aws(aws_account, tmp_path) -> AwsCli:
    return AwsCli(aws_account, tmp_path / "aws-home")


def test_ecr_repositories(aws, aws_account):
    created = aws.json(
        "ecr", "create-repository", "--repository-name", "cli/app", "--image-tag-mutability", "IMMUTABLE"
    )["repository"]
    assert created["repositoryName"] == "cli/app"
    assert created["registryId"] == aws_account.account_id
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert created["repositoryArn"].endswith(f":{aws_account.account_id}:repository/cli/app")
    aws.run("ecr", "create-repository", "--repository-name", "cli/other")

    listed = aws.json("ecr", "describe-repositories")["repositories"]
    assert sorted(r["repositoryName"] for r in listed) == ["cli/app", "cli/other"]
    # The CLI pages on its own: one repository a page still lists both.
    paged = aws.json("ecr", "describe-repositories", "--page-size", "1")["repositories"]
    assert sorted(r["repositoryName"] for r in paged) == ["cli/app", "cli/other"]
    one = aws.json("ecr", "describe-repositories", "--repository-names", "cli/app", "--query", "repositories[0]")
    assert one["repositoryUri"] == created["repositoryUri"]

    error = aws.refused("ecr", "create-repository", "--repository-name", "cli/app")
    assert "RepositoryAlreadyExistsException" in error
    aws.run("ecr", "delete-repository", "--repository-name", "cli/other")
    error = aws.refused("ecr", "describe-repositories", "--repository-names", "cli/other")
    assert "RepositoryNotFoundException" in error and "cli/other" in error

    # Without --endpoint-url, AWS_ENDPOINT_URL names Berth just as well.
    via_environment = aws.json("ecr", "describe-repositories", endpoint=False, env={"AWS_ENDPOINT_URL": aws.url})
    assert [r["repositoryName"] for r in via_environment["repositories"]] == ["cli/app"]
    # A wrong region is refused by name.
    error = aws.refused("ecr", "describe-repositories", "--region", "eu-west-1")
    assert "InvalidSignatureException" in error and f"'{REGION}'" in error


def test_sts_and_a_role_profile(aws_account, tmp_path):
    account_id = aws_account.account_id
    arn = create_role(aws_account, "cli-deployer", policies=("BerthRegistryReadOnly",))
    deployer = {"role_arn": arn, "source_profile": "default", "role_session_name": "from-cli", "region": REGION}
    aws = AwsCli(
        aws_account,
        tmp_path / "aws-home",
        profiles={
            # The profile names Berth as its endpoint: the assume-role call and the commands go there.
            "deployer": {**deployer, "endpoint_url": aws_account.server.url},
            # This one does not: AWS_ENDPOINT_URL must.
            "deployer-env": {**deployer, "role_session_name": "from-env"},
        },
    )
    identity = aws.json("sts", "get-caller-identity")
    assert identity == {"UserId": account_id, "Account": account_id, "Arn": root_arn(account_id)}

    assumed = aws.json(
        "sts", "assume-role", "--role-arn", arn, "--role-session-name", "by-hand", "--duration-seconds", "900"
    )
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:berth:sts::{account_id}:assumed-role/cli-deployer/by-hand"
    assert set(assumed["Credentials"]) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}

    as_role = aws.json("sts", "get-caller-identity", "--profile", "deployer", endpoint=False)
    assert as_role["Arn"] == f"arn:berth:sts::{account_id}:assumed-role/cli-deployer/from-cli"
    assert as_role["Account"] == account_id
    aws.run("ecr", "create-repository", "--repository-name", "cli/seen-by-role")
    seen = aws.json("ecr", "describe-repositories", "--profile", "deployer", endpoint=False)
    assert [r["repositoryName"] for r in seen["repositories"]] == ["cli/seen-by-role"]
    error = aws.refused("ecr", "create-repository", "--repository-name", "cli/by-role", "--profile", "deployer")
    assert "AccessDeniedException" in error
    # The CLI cached the role's credentials, as it does against AWS.
    assert list((aws.home / ".aws" / "cli" / "cache").glob("*.json"))

    from_env = aws.json(
        "sts", "get-caller-identity", "--profile", "deployer-env", endpoint=False, env={"AWS_ENDPOINT_URL": aws.url}
    )
    assert from_env["Arn"] == f"arn:berth:sts::{account_id}:assumed-role/cli-deployer/from-env"

    error = aws.refused(
        "sts", "assume-role", "--role-arn", role_arn(account_id, "nobody"), "--role-session-name", "denied"
    )
    assert "AccessDenied" in error
    error = aws.refused("sts", "get-session-token")
    assert "UnsupportedOperationException" in error


def test_push_with_get_login_password_and_describe_images(aws, aws_account, tmp_path):
    """`aws ecr get-login-password | skopeo login`, a push, then ECR's view of it."""
    need("skopeo")
    server = aws_account.server
    repository = aws.json("ecr", "create-repository", "--repository-name", "cli/pushed")["repository"]
    image = I.build_oci_image(tmp_path / "image", tag="v1")

    skopeo_home = tmp_path / "skopeo"
    login = aws.shell_command("ecr", "get-login-password")
    logged_in = run_isolated(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"{login} | skopeo login --tls-verify=false --username AWS --password-stdin {shlex.quote(server.host)}",
        ],
        skopeo_home,
    )
    assert "Login Succeeded" in logged_in.stdout, logged_in.stdout + logged_in.stderr
    uri = repository["repositoryUri"]
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{image.path}:v1", f"docker://{uri}:v1"], skopeo_home
    )

    described = aws.json("ecr", "describe-images", "--repository-name", "cli/pushed")["imageDetails"]
    assert len(described) == 1
    assert described[0]["imageDigest"] == image.manifest_digest
    assert described[0]["imageTags"] == ["v1"]
    assert described[0]["registryId"] == aws_account.account_id
    by_tag = aws.json("ecr", "describe-images", "--repository-name", "cli/pushed", "--image-ids", "imageTag=v1")[
        "imageDetails"
    ]
    assert by_tag[0]["imageDigest"] == image.manifest_digest

    changed = aws.json(
        "ecr", "put-image-tag-mutability", "--repository-name", "cli/pushed", "--image-tag-mutability", "IMMUTABLE"
    )
    assert changed["imageTagMutability"] == "IMMUTABLE"
    # An immutable tag cannot move: a second image pushed as v1 is refused.
    other = I.build_oci_image(tmp_path / "other", tag="v1", n_layers=1)
    pushed_again = run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{other.path}:v1", f"docker://{uri}:v1"],
        skopeo_home,
        check=False,
    )
    assert pushed_again.returncode != 0

    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "everyone-pulls",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                }
            ],
        }
    )
    set_policy = aws.json("ecr", "set-repository-policy", "--repository-name", "cli/pushed", "--policy-text", policy)
    assert set_policy["repositoryName"] == "cli/pushed"
    assert json.loads(set_policy["policyText"])["Statement"][0]["Sid"] == "everyone-pulls"
    got = aws.json("ecr", "get-repository-policy", "--repository-name", "cli/pushed")
    assert json.loads(got["policyText"]) == json.loads(set_policy["policyText"])


def test_ecr_public(aws, aws_account):
    registries = aws.json("ecr-public", "describe-registries")["registries"]
    assert [registry["registryId"] for registry in registries] == [aws_account.account_id]
    created = aws.json(
        "ecr-public",
        "create-repository",
        "--repository-name",
        "cli/public",
        "--catalog-data",
        "description=From the AWS CLI",
    )["repository"]
    assert created["repositoryName"] == "cli/public"
    assert created["registryId"] == aws_account.account_id
    listed = aws.json("ecr-public", "describe-repositories")["repositories"]
    assert [r["repositoryName"] for r in listed] == ["cli/public"]
