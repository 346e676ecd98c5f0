"""`berth iam`: IAM's users, managed policies, attachments, roles and the policy
simulator, over the signed-in account."""

from __future__ import annotations

import sys
from urllib.parse import quote

import click

from ..context import Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, table, when

# `berth iam simulate`'s exit status when any action is denied (1 stays "the command failed").
DENIED_EXIT_STATUS = 3

USER_COLUMNS = [
    Column("User", "userName"),
    Column("Root", "isRoot"),
    Column("ARN", "arn"),
    Column("Created", "createDate", when),
]
NEW_KEY_COLUMNS = [
    Column("Access key id", "accessKeyId"),
    Column("Secret access key", "secretAccessKey"),
    Column("Status", "status"),
]
POLICY_COLUMNS = [
    Column("Policy", "policyName"),
    Column("Built in", "isBuiltin"),
    Column("ARN", "arn"),
    Column("Description", "description"),
]
ATTACHED_COLUMNS = [Column("Policy", "policyName"), Column("ARN", "policyArn")]
ROLE_COLUMNS = [
    Column("Role", "roleName"),
    Column("ARN", "arn"),
    Column("Max session (s)", "maxSessionDuration"),
    Column("Created", "createDate", when),
]


def _segment(value: str) -> str:
    return quote(value, safe="")


@click.group("iam", short_help="Users, policies, roles and the policy simulator.")
def iam() -> None:
    """IAM for your account: users, managed policies and their attachments, roles
    (who may assume them), and a simulator that says whether a principal may act."""


# -- users ------------------------------------------------------------------------------


@iam.group("users", short_help="Create, list and delete IAM users.")
def users() -> None:
    """IAM users of your account. A new user may do nothing until a policy is attached."""


@users.command("create")
@click.argument("user_name")
@click.option("--password-stdin", is_flag=True, help="read a password for the user from stdin")
@output_option
@pass_session
def users_create(session: Session, user_name: str, password_stdin: bool, output: str) -> None:
    """Create USER_NAME, unique within your account (it signs in with access keys;
    --password-stdin gives it a password too, to sign in as ACCOUNT/USER_NAME)."""
    body = {"userName": user_name}
    if password_stdin:
        body["password"] = sys.stdin.read().rstrip("\n")
    with Activity(f"Creating user {user_name}"):
        user = session.client.post("/iam/users", body)
    emit(user, output, lambda user: fields(user, USER_COLUMNS))


@users.command("list")
@output_option
@pass_session
def users_list(session: Session, output: str) -> None:
    """List the account's users, its root user included."""
    with Activity("Listing users"):
        listed = session.client.get("/iam/users")
    emit(listed, output, lambda listed: table(listed["users"], USER_COLUMNS))


@users.command("delete")
@click.argument("user_name")
@pass_session
def users_delete(session: Session, user_name: str) -> None:
    """Delete USER_NAME with its access keys and attachments."""
    with Activity(f"Deleting user {user_name}"):
        session.client.delete(f"/iam/users/{_segment(user_name)}")
    click.echo(f"Deleted user {user_name}.")


@users.command("create-access-key")
@click.argument("user_name")
@output_option
@pass_session
def users_create_access_key(session: Session, user_name: str, output: str) -> None:
    """Create an access key for USER_NAME. Its secret is shown this once."""
    with Activity(f"Creating an access key for {user_name}"):
        key = session.client.post(f"/iam/users/{_segment(user_name)}/access-keys")
    emit(key, output, lambda key: fields(key, NEW_KEY_COLUMNS) + "\n\nThe secret is shown only now: keep it safe.")


# -- managed policies -----------------------------------------------------------------------


@iam.group("policies", short_help="List, create, show and delete managed policies.")
def policies() -> None:
    """Managed policies: Berth's built-in ones and your account's own."""


@policies.command("list")
@output_option
@pass_session
def policies_list(session: Session, output: str) -> None:
    """List the built-in policies and your own."""
    with Activity("Listing policies"):
        listed = session.client.get("/iam/policies")
    emit(listed, output, lambda listed: table(listed["policies"], POLICY_COLUMNS))


@policies.command("create")
@click.option("--name", required=True, help="the policy's name")
@click.option("--document", type=click.File("r"), required=True, help="the policy's JSON ('-' for stdin)")
@click.option("--description", default="", help="what the policy is for")
@output_option
@pass_session
def policies_create(session: Session, name: str, document, description: str, output: str) -> None:
    """Create a managed policy from a JSON document (validated by the server)."""
    body = {"policyName": name, "policyDocument": document.read(), "description": description}
    with Activity(f"Creating policy {name}"):
        created = session.client.post("/iam/policies", body)
    emit(created, output, lambda created: fields(created, POLICY_COLUMNS))


@policies.command("get")
@click.argument("name")
@output_option
@pass_session
def policies_get(session: Session, name: str, output: str) -> None:
    """Show a policy and its document."""
    with Activity(f"Getting policy {name}"):
        found = session.client.get(f"/iam/policies/{_segment(name)}")
    emit(found, output, lambda found: fields(found, POLICY_COLUMNS) + "\n\n" + found["policyDocument"])


@policies.command("delete")
@click.argument("name")
@pass_session
def policies_delete(session: Session, name: str) -> None:
    """Delete one of your policies (detach it everywhere first)."""
    with Activity(f"Deleting policy {name}"):
        session.client.delete(f"/iam/policies/{_segment(name)}")
    click.echo(f"Deleted policy {name}.")


# -- attachments ----------------------------------------------------------------------------


def _holder_path(user: str | None, role: str | None) -> str:
    if (user is None) == (role is None):
        raise click.UsageError("give --user or --role (one of them)")
    return f"/iam/users/{_segment(user)}" if user is not None else f"/iam/roles/{_segment(role)}"


@iam.command("attach-policy", short_help="Attach a policy to a user or role.")
@click.option("--user", help="the user to attach to")
@click.option("--role", help="the role to attach to")
@click.option("--policy", "policy_reference", required=True, help="the policy's ARN or name")
@output_option
@pass_session
def attach_policy(session: Session, user: str | None, role: str | None, policy_reference: str, output: str) -> None:
    """Attach a built-in policy (BerthRegistryReadOnly, ...; AWS's AmazonEC2ContainerRegistry*
    names work too) or one of your own to a user or a role."""
    path = _holder_path(user, role)
    with Activity(f"Attaching {policy_reference}"):
        attached = session.client.post(f"{path}/policies", {"policyArn": policy_reference})
    emit(attached, output, lambda attached: table(attached["attachedPolicies"], ATTACHED_COLUMNS))


@iam.command("detach-policy", short_help="Detach a policy from a user or role.")
@click.option("--user", help="the user to detach from")
@click.option("--role", help="the role to detach from")
@click.option("--policy", "policy_reference", required=True, help="the policy's ARN or name")
@pass_session
def detach_policy(session: Session, user: str | None, role: str | None, policy_reference: str) -> None:
    """Detach a policy from a user or a role."""
    path = _holder_path(user, role)
    with Activity(f"Detaching {policy_reference}"):
        session.client.delete(f"{path}/policies/{quote(policy_reference, safe=':/')}")
    click.echo(f"Detached {policy_reference} from {user or role}.")


@iam.command("list-attached-policies", short_help="List a user's or role's policies.")
@click.option("--user", help="the user")
@click.option("--role", help="the role")
@output_option
@pass_session
def list_attached_policies(session: Session, user: str | None, role: str | None, output: str) -> None:
    """List the policies attached to a user or a role."""
    path = _holder_path(user, role)
    with Activity("Listing attached policies"):
        attached = session.client.get(f"{path}/policies")
    emit(attached, output, lambda attached: table(attached["attachedPolicies"], ATTACHED_COLUMNS))


# -- roles ------------------------------------------------------------------------------------


@iam.group("roles", short_help="Create, list, show and delete roles.")
def roles() -> None:
    """Roles: identities others assume (`berth sts assume-role`) for temporary
    credentials. The trust policy says who may."""


@roles.command("create")
@click.option("--name", required=True, help="the role's name")
@click.option("--trust-policy", type=click.File("r"), required=True, help="the trust policy's JSON ('-' for stdin)")
@click.option(
    "--max-session-duration",
    type=click.IntRange(3600, 43200),
    default=3600,
    show_default=True,
    help="seconds a session may last at most",
)
@click.option("--description", default="", help="what the role is for")
@output_option
@pass_session
def roles_create(
    session: Session, name: str, trust_policy, max_session_duration: int, description: str, output: str
) -> None:
    """Create a role with its trust policy (validated by the server)."""
    body = {
        "roleName": name,
        "assumeRolePolicyDocument": trust_policy.read(),
        "maxSessionDuration": max_session_duration,
        "description": description,
    }
    with Activity(f"Creating role {name}"):
        created = session.client.post("/iam/roles", body)
    emit(created, output, lambda created: fields(created, ROLE_COLUMNS))


@roles.command("list")
@output_option
@pass_session
def roles_list(session: Session, output: str) -> None:
    """List the account's roles."""
    with Activity("Listing roles"):
        listed = session.client.get("/iam/roles")
    emit(listed, output, lambda listed: table(listed["roles"], ROLE_COLUMNS))


@roles.command("get")
@click.argument("name")
@output_option
@pass_session
def roles_get(session: Session, name: str, output: str) -> None:
    """Show a role and its trust policy."""
    with Activity(f"Getting role {name}"):
        found = session.client.get(f"/iam/roles/{_segment(name)}")
    emit(found, output, lambda found: fields(found, ROLE_COLUMNS) + "\n\n" + found["assumeRolePolicyDocument"])


@roles.command("delete")
@click.argument("name")
@pass_session
def roles_delete(session: Session, name: str) -> None:
    """Delete a role; its sessions' credentials stop working at once."""
    with Activity(f"Deleting role {name}"):
        session.client.delete(f"/iam/roles/{_segment(name)}")
    click.echo(f"Deleted role {name}.")


@roles.command("update-trust-policy")
@click.argument("name")
@click.option("--trust-policy", type=click.File("r"), required=True, help="the trust policy's JSON ('-' for stdin)")
@output_option
@pass_session
def roles_update_trust_policy(session: Session, name: str, trust_policy, output: str) -> None:
    """Replace a role's trust policy."""
    with Activity(f"Updating the trust policy of {name}"):
        updated = session.client.put(
            f"/iam/roles/{_segment(name)}/trust-policy", {"policyDocument": trust_policy.read()}
        )
    emit(updated, output, lambda updated: fields(updated, ROLE_COLUMNS))


# -- the simulator ----------------------------------------------------------------------------


def _render_simulation(simulation: dict) -> str:
    lines = []
    for result in simulation["results"]:
        deciding = ", ".join(
            f"{ref['policy']} " + (f'Sid "{ref["sid"]}"' if ref["sid"] else f"statement {ref['index']}")
            for ref in result["matchedStatements"]
        )
        lines.append(f"{result['action']}: {result['decision']}" + (f" by {deciding}" if deciding else ""))
        lines.append(f"  {result['explanation']}")
    return "\n".join(lines)


@iam.command("simulate", short_help="May a principal do an action on a resource?")
@click.option("--principal", "principal_arn", required=True, help="the ARN of a principal of your account")
@click.option(
    "--action", "actions", multiple=True, required=True, help="an action (ecr:BatchGetImage); repeat for more"
)
@click.option("--resource", "resource_arn", default="*", show_default=True, help="the resource's ARN")
@click.option("--source-ip", help="the address the request would come from")
@output_option
@pass_session
def simulate(
    session: Session,
    principal_arn: str,
    actions: tuple[str, ...],
    resource_arn: str,
    source_ip: str | None,
    output: str,
) -> None:
    """Say for each action whether PRINCIPAL may do it on RESOURCE, and which
    statement decided. Exit status 0 when every action is allowed, 3 when any is denied."""
    body = {"principalArn": principal_arn, "actions": list(actions), "resourceArn": resource_arn}
    if source_ip:
        body["sourceIp"] = source_ip
    with Activity("Simulating"):
        simulation = session.client.post("/iam/simulate", body)
    emit(simulation, output, _render_simulation)
    if any(result["decision"] != "allowed" for result in simulation["results"]):
        click.get_current_context().exit(DENIED_EXIT_STATUS)
