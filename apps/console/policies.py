"""A repository's policies in the console: the repository policy's editor beside its
simulator (`/-/permissions`), and the lifecycle policy's editor with its preview
(`/-/lifecycle`).

Every operation is the management API's, through the same service and the same
``authorize`` call: SetRepositoryPolicy and DeleteRepositoryPolicy
(apps.iam.services), PutLifecyclePolicy, DeleteLifecyclePolicy and
StartLifecyclePolicyPreview (apps.lifecycle.services); reads authorize
GetRepositoryPolicy and GetLifecyclePolicy. A policy the parser refuses is shown
with the parser's message beside the editor (status 400, nothing stored), and the
draft stays in the editor.

The simulator answers "may this principal do this action on this repository?" the
way ``iam.enforcement`` decides it: a public repository's pulls first, then
anonymous callers (never authorized by policy), the account's root, and otherwise
the policy core's ``simulate`` over the principal's identity policies and the
repository policy (the saved one or the editor's draft), with the repository's
resource tags and the source IP and user agent given as condition keys. A
principal of the account is IAM's SimulatePrincipalPolicy (``iam.selectors``
finds it and its identity policies); another account's identity policies are that
account's business, so they are taken to allow and the answer says so. Simulating
authorizes ``iam:SimulatePrincipalPolicy`` as the API does (on the principal's
ARN; on ``*`` for a principal outside the account) after GetRepositoryPolicy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import CharField, Value
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import path

from apps.accounts.models import Account
from apps.iam import enforcement, policy
from apps.iam import selectors as iam_selectors
from apps.iam import services as iam_services
from apps.kernel.arn import ACCOUNT_ID_RE
from apps.lifecycle import policy as lifecycle_policy
from apps.lifecycle import selectors as lifecycle_selectors
from apps.lifecycle import services as lifecycle_services
from apps.lifecycle.exceptions import LifecyclePolicyInvalid, LifecyclePolicyNotFound
from apps.lifecycle.models import PreviewStatus
from apps.repositories.models import Repository, RepositoryTag

from .base import ConsoleView, Refused
from .policies_forms import (
    DRAFT,
    SAVED,
    LifecyclePolicyForm,
    RepositoryPolicyForm,
    SimulationForm,
    error_location,
    formatted,
)

# Where a new policy starts: let another account pull (its id to be filled in).
EXAMPLE_REPOSITORY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPullFromAnotherAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            }
        ],
    },
    indent=2,
)
EXAMPLE_LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged images after 14 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 14,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Keep the last 30 release images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["v*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 30,
                },
                "action": {"type": "expire"},
            },
        ]
    },
    indent=2,
)
# The simulator suggests at most this many users and roles (any other ARN can be typed).
SUGGESTED_PRINCIPALS = 500
# A preview lists at most this many images on the page (the API pages through them all).
PREVIEW_ROWS = 200

# Another account's identity policies are its own: the simulation takes them to allow.
_ASSUMED_IDENTITY = policy.parse_policy(
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
    kind=policy.PolicyKind.IDENTITY,
    name="its own account's identity policies (taken to allow)",
    partition=settings.BERTH_ARN_PARTITION,
)


# -- the simulation -----------------------------------------------------------------------


class SimulationInvalid(ValueError):
    """The simulation names something malformed or unknown; the message says which."""

    def __init__(self, message: str, *, field: str = "principal") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class SimulatedCaller:
    principal: policy.Principal
    identity_policies: list[policy.Policy]
    # What iam:SimulatePrincipalPolicy is authorized on: the principal of the account's ARN, else "*".
    authorized_arn: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Simulation:
    principal: str
    action: str
    resource_arn: str
    subject: str  # what was simulated: "saved", "draft" or "none" (no policy)
    allowed: bool
    reason: str  # "allowed", "explicit_deny" or "implicit_deny"
    explanation: str
    statements: list[str]
    notes: list[str]

    @property
    def verdict(self) -> str:
        return "Allowed" if self.allowed else "Denied"

    @property
    def reason_label(self) -> str:
        return {"allowed": "allowed", "explicit_deny": "explicit deny", "implicit_deny": "implicit deny"}[self.reason]

    def as_json(self) -> dict:
        return {
            "principal": self.principal,
            "action": self.action,
            "resourceArn": self.resource_arn,
            "simulated": self.subject,
            "allowed": self.allowed,
            "verdict": self.verdict,
            "decision": self.reason,
            "explanation": self.explanation,
            "matchedStatements": self.statements,
            "notes": self.notes,
        }


_DECISIONS = {
    policy.Reason.ALLOW: "allowed",
    policy.Reason.EXPLICIT_DENY: "explicit_deny",
    policy.Reason.IMPLICIT_DENY: "implicit_deny",
}


def simulated_caller(account: Account, text: str) -> SimulatedCaller:
    """The principal ``text`` names: ``*`` (anonymous), an account id (its root), or
    an ARN of a root, user, role or role session. One of the account's own is found
    with its identity policies; another account's must exist."""
    partition = settings.BERTH_ARN_PARTITION
    text = text.strip()
    if text in ("*", "anonymous"):
        return SimulatedCaller(policy.Principal.anonymous(), [], "*")
    if ACCOUNT_ID_RE.match(text):
        text = policy.account_root_arn(text, partition=partition)
    try:
        arn = policy.Arn.parse(text, partition=partition)
    except policy.ArnError as error:
        raise SimulationInvalid(str(error)) from None
    if arn.account == account.pk:
        try:
            found = iam_selectors.simulation_principal(account, text)
        except iam_selectors.SimulationInvalid as error:
            raise SimulationInvalid(str(error).removeprefix("principalArn: ")) from None
        return SimulatedCaller(found.principal, found.identity_policies, text)
    return _outside_caller(arn, text)


def _outside_caller(arn: policy.Arn, text: str) -> SimulatedCaller:
    partition = settings.BERTH_ARN_PARTITION
    kind, _, rest = arn.resource.partition("/")
    if not arn.account or arn.region or arn.service not in ("iam", "sts"):
        raise SimulationInvalid(f"'{text}' is not a principal ARN (an account's root, a user, a role or a session)")
    suspended = Account.objects.filter(pk=arn.account).values_list("suspended_at", flat=True)
    if not suspended:
        raise SimulationInvalid(f"there is no account {arn.account}")
    notes = []
    if suspended[0] is not None:
        notes.append(f"Account {arn.account} is suspended: nothing of it may call at all.")
    if arn.service == "iam" and arn.resource == "root":
        return SimulatedCaller(policy.Principal.root(arn.account, partition=partition), [], "*", notes)
    if arn.service == "iam" and kind == "user" and rest and "/" not in rest:
        principal = policy.Principal.user(arn.account, rest, partition=partition)
    elif arn.service == "iam" and kind == "role" and rest:
        role_path, _, role_name = f"/{rest}".rpartition("/")
        principal = policy.Principal.assumed_role(
            arn.account, role_name, iam_selectors.SIMULATED_SESSION_NAME, path=f"{role_path}/", partition=partition
        )
    elif arn.service == "sts" and kind == "assumed-role" and rest.count("/") == 1:
        role_name, _, session_name = rest.partition("/")
        principal = policy.Principal.assumed_role(arn.account, role_name, session_name, partition=partition)
    else:
        raise SimulationInvalid(f"'{text}' names no user, role or role session (nor an account's root)")
    notes.append(
        f"{text} belongs to account {arn.account}: its own identity policies must allow the request too. "
        "The simulation takes them to allow; only that account can tell."
    )
    return SimulatedCaller(principal, [_ASSUMED_IDENTITY], "*", notes)


def simulate(
    repository: Repository,
    caller: SimulatedCaller,
    *,
    principal_text: str,
    action: str,
    resource_policy: policy.Policy | None,
    subject: str,
    source_ip: str | None,
    user_agent: str | None,
) -> Simulation:
    """Decide as ``enforcement`` decides a request of ``caller`` for ``action`` on
    ``repository``, with ``resource_policy`` in place of the stored one."""
    resource_arn = enforcement.repository_arn(repository.account_id, repository.name)
    principal = caller.principal
    notes = list(caller.notes)
    decision = _before_policies(repository, principal, action)
    if decision is None:
        tags = dict(RepositoryTag.objects.filter(repository=repository).values_list("key", "value"))
        decision = policy.simulate(
            principal,
            action,
            resource_arn,
            source_ip=source_ip,
            user_agent=user_agent or None,
            resource_account=repository.account_id,
            resource_tags=tags,
            identity_policies=caller.identity_policies,
            resource_policy=resource_policy,
        )
    if principal.is_anonymous and not decision.allowed and _names_everyone(resource_policy, action):
        notes.append(
            'Principal "*" lets in every signed-in caller, of any account, never an anonymous one. '
            "To let everyone pull without signing in, make the repository public."
        )
    if principal.is_root and principal.account_id == repository.account_id:
        notes.append("The account's root user is never limited by a repository policy.")
    return Simulation(
        principal=principal_text.strip(),
        action=action,
        resource_arn=resource_arn,
        subject=subject if resource_policy is not None else "none",
        allowed=decision.allowed,
        reason=_DECISIONS[decision.reason],
        explanation=decision.explanation,
        statements=[str(ref) for ref in decision.statements],
        notes=notes,
    )


def _before_policies(repository: Repository, principal: policy.Principal, action: str) -> policy.Decision | None:
    """enforcement's rules that come before any policy is read."""
    if repository.account.is_suspended:
        return enforcement.suspended(repository.account_id)
    if repository.is_public and action in enforcement.PUBLIC_READ_ACTIONS:
        return enforcement.PUBLIC_ALLOWED
    if principal.is_anonymous:
        return policy.Decision(
            False, policy.Reason.IMPLICIT_DENY, (), "anonymous callers are never authorized by policy"
        )
    if principal.is_root and principal.account_id == repository.account_id:
        return enforcement.ROOT_ALLOWED
    return None


def _names_everyone(resource_policy: policy.Policy | None, action: str) -> bool:
    return resource_policy is not None and any(
        statement.effect is policy.Effect.ALLOW
        and statement.principal is not None
        and statement.principal.everyone
        and not statement.not_action
        and any(policy.action_matches(pattern, action) for pattern in statement.actions)
        for statement in resource_policy.statements
    )


# -- the repository policy page ----------------------------------------------------------


class RepositoryPermissions(ConsoleView):
    """`/console/repositories/<name>/-/permissions`: the editor (Save, Delete) beside
    the simulator. One form holds both, so that simulating the draft works without
    JavaScript; its ``intent`` says what was asked."""

    section = "repositories"
    template_name = "console/policies/permissions.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:GetRepositoryPolicy")
        self.authorize("ecr:GetRepositoryPolicy", repository=repository)
        stored = iam_selectors.repository_policy_of(repository)
        editor = RepositoryPolicyForm(initial={"policy_text": formatted(stored.document) if stored else ""})
        simulator = SimulationForm(initial={"subject": SAVED if stored else DRAFT})
        return self.page(repository, stored, editor, simulator)

    def post(self, request, name: str):
        intent = request.POST.get("intent", "save")
        if intent == "delete":
            return self.delete(name)
        if intent == "simulate":
            return self.simulate(name)
        return self.save(name)

    def save(self, name: str):
        repository = self.repository_named(name, action="ecr:SetRepositoryPolicy")
        self.authorize("ecr:SetRepositoryPolicy", repository=repository)
        editor = RepositoryPolicyForm(self.request.POST)
        if editor.is_valid():
            text = editor.cleaned_data["policy_text"]
            if not text.strip():
                editor.add_error(
                    "policy_text", "Write a policy first (to remove the policy, use Delete policy instead)."
                )
            else:
                try:
                    iam_services.set_repository_policy(
                        repository=repository, document=text, actor=self.actor, context=self.context
                    )
                except iam_services.PolicyInvalid as error:
                    editor.add_error("policy_text", str(error))
                else:
                    self.done(f"Saved the repository policy of {repository.name}.")
                    return redirect("console:repository-permissions", name=repository.name)
        return self.page(repository, self._stored(repository), editor, self._simulator(), status=400)

    def delete(self, name: str):
        repository = self.repository_named(name, action="ecr:DeleteRepositoryPolicy")
        self.authorize("ecr:DeleteRepositoryPolicy", repository=repository)
        if iam_services.delete_repository_policy(repository=repository, actor=self.actor, context=self.context):
            self.done(f"Deleted the repository policy of {repository.name}.")
            return redirect("console:repository-permissions", name=repository.name)
        editor = RepositoryPolicyForm(initial={"policy_text": ""})
        return self.page(
            repository,
            None,
            editor,
            self._simulator(),
            status=404,
            problem=f"Repository {repository.name} has no repository policy to delete.",
        )

    def simulate(self, name: str):
        repository = self.repository_named(name, action="iam:SimulatePrincipalPolicy")
        self.authorize("ecr:GetRepositoryPolicy", repository=repository)
        stored = iam_selectors.repository_policy_of(repository)
        editor = RepositoryPolicyForm(self.request.POST)
        simulator = SimulationForm(self.request.POST)
        outcome = run_simulation(self, repository, stored, editor, simulator)
        status = 200 if outcome is not None else 400
        return self.page(repository, stored, editor, simulator, simulation=outcome, status=status)

    # -- rendering --

    def _stored(self, repository: Repository):
        """The saved policy, for a page answering a failed write: read only when the
        caller may read it (without starting another audit event)."""
        if not self.allowed("ecr:GetRepositoryPolicy", repository=repository):
            return None
        return iam_selectors.repository_policy_of(repository)

    def _simulator(self) -> SimulationForm:
        # The simulator's fields ride along with every post of the page's form: keep them.
        simulator = SimulationForm(self.request.POST)
        simulator.is_valid()
        return simulator

    def page(self, repository, stored, editor, simulator, *, simulation=None, status=200, problem=""):
        policy_error = editor.errors.get("policy_text", [""])[0] if editor.is_bound else ""
        context = {
            "repository": repository,
            "tab": "permissions",
            "stored": stored,
            "editor": editor,
            "simulator": simulator,
            "simulation": simulation,
            "policy_error": policy_error,
            "policy_error_where": error_location(policy_error) if policy_error else {},
            "problem": problem,
            "example": EXAMPLE_REPOSITORY_POLICY.replace("arn:aws:", f"arn:{settings.BERTH_ARN_PARTITION}:"),
            "principals": self._principal_suggestions(),
            "may_save": self.allowed("ecr:SetRepositoryPolicy", repository=repository),
            "may_delete": stored is not None and self.allowed("ecr:DeleteRepositoryPolicy", repository=repository),
        }
        return self.render(context, status=status)

    def _principal_suggestions(self) -> list[tuple[str, str]]:
        """The simulator's suggestions: the account's root, then its users and roles
        (one query; a user's row has no path)."""
        partition = settings.BERTH_ARN_PARTITION
        account_id = self.account.pk
        users = (
            iam_selectors.users_of(self.account)
            .filter(iam_root__isnull=True)
            .order_by()
            .values_list("membership__user_name", Value("", output_field=CharField()))
        )
        roles = iam_selectors.roles_of(self.account).order_by().values_list("name", "path")
        rows = sorted(users.union(roles, all=True)[:SUGGESTED_PRINCIPALS], key=lambda row: (bool(row[1]), row[0]))
        suggestions = [(policy.account_root_arn(account_id, partition=partition), "this account's root user")]
        for name, role_path in rows:
            if role_path:
                arn = policy.role_arn(account_id, name, path=role_path, partition=partition)
                suggestions.append((arn, f"role {name}"))
            else:
                suggestions.append((policy.user_arn(account_id, name, partition=partition), f"user {name}"))
        suggestions.append(("*", "an anonymous caller"))
        return suggestions


def run_simulation(view: ConsoleView, repository, stored, editor, simulator) -> Simulation | None:
    """The simulation the posted form asks for, or None with the forms' errors set.
    Authorizes iam:SimulatePrincipalPolicy (``Refused`` when the caller may not)."""
    if not simulator.is_valid():
        editor.is_valid()
        return None
    data = simulator.cleaned_data
    resource_policy = None
    if data["subject"] == DRAFT:
        if not editor.is_valid():
            return None
        text = editor.cleaned_data["policy_text"]
        if text.strip():
            try:
                iam_services.validate_repository_policy(text, repository.account_id)
            except iam_services.PolicyInvalid as error:
                editor.add_error("policy_text", str(error))
                simulator.add_error(None, "The draft is not a valid policy: correct it first (see beside the editor).")
                return None
            resource_policy = policy.parse_policy(
                text,
                kind=policy.PolicyKind.RESOURCE,
                name="draft policy",
                partition=settings.BERTH_ARN_PARTITION,
            )
    else:
        editor.is_valid()
        if stored is not None:
            resource_policy = iam_selectors.parsed_policy(
                stored.document, kind=policy.PolicyKind.RESOURCE, name=iam_selectors.REPOSITORY_POLICY_NAME
            )
    try:
        caller = simulated_caller(view.account, data["principal"])
    except SimulationInvalid as error:
        simulator.add_error(error.field, str(error))
        return None
    view.authorize("iam:SimulatePrincipalPolicy", resource_arn=caller.authorized_arn)
    return simulate(
        repository,
        caller,
        principal_text=data["principal"],
        action=data["action"],
        resource_policy=resource_policy,
        subject=data["subject"],
        source_ip=data["source_ip"] or None,
        user_agent=data["user_agent"],
    )


class RepositoryPolicySimulation(ConsoleView):
    """`/-/permissions/simulate` (POST, CSRF-protected): the simulator's answer as
    JSON, for the page's script; the page's own form does the same without it."""

    def post(self, request, name: str):
        repository = self.repository_named(name, action="iam:SimulatePrincipalPolicy")
        self.authorize("ecr:GetRepositoryPolicy", repository=repository)
        stored = iam_selectors.repository_policy_of(repository)
        editor = RepositoryPolicyForm(request.POST)
        simulator = SimulationForm(request.POST)
        outcome = run_simulation(self, repository, stored, editor, simulator)
        if outcome is None:
            errors = {name: [str(error) for error in found] for name, found in simulator.errors.items()}
            if editor.errors:
                errors["policy_text"] = [str(error) for error in editor.errors["policy_text"]]
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse(outcome.as_json())

    def refused(self, refusal: Refused):
        return JsonResponse(
            {"errors": {"__all__": [f"You may not do {refusal.action} on {refusal.resource_arn}."]}}, status=403
        )


# -- the lifecycle policy page ------------------------------------------------------------


@dataclass
class PreviewRow:
    digest: str
    tags: list[str]
    pushed_at: datetime | None
    last_pulled_at: datetime | None
    priority: int
    rule: str
    also_expires: int


class RepositoryLifecycle(ConsoleView):
    """`/console/repositories/<name>/-/lifecycle`: the lifecycle policy's editor
    (Save, Delete) and its preview (of the editor's text, or of the saved policy
    when the editor is empty). ``?previewed`` (where a preview sends the browser)
    puts the previewed text back in the editor."""

    section = "repositories"
    template_name = "console/policies/lifecycle.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:GetLifecyclePolicy")
        self.authorize("ecr:GetLifecyclePolicy", repository=repository)
        stored = lifecycle_selectors.policy_of(repository)
        preview = self._preview(repository)
        text = formatted(stored.text) if stored else ""
        if "previewed" in request.GET and preview is not None:
            text = preview.text
        editor = LifecyclePolicyForm(initial={"lifecycle_policy_text": text})
        return self.page(repository, stored, preview, editor)

    def post(self, request, name: str):
        intent = request.POST.get("intent", "save")
        if intent == "delete":
            return self.delete(name)
        if intent == "preview":
            return self.preview(name)
        return self.save(name)

    def save(self, name: str):
        repository = self.repository_named(name, action="ecr:PutLifecyclePolicy")
        self.authorize("ecr:PutLifecyclePolicy", repository=repository)
        editor = LifecyclePolicyForm(self.request.POST)
        if editor.is_valid():
            text = editor.cleaned_data["lifecycle_policy_text"]
            if not text.strip():
                editor.add_error(
                    "lifecycle_policy_text", "Write a policy first (to remove the policy, use Delete policy instead)."
                )
            else:
                try:
                    lifecycle_services.put_lifecycle_policy(
                        repository=repository, text=text, actor=self.actor, context=self.context
                    )
                except LifecyclePolicyInvalid as error:
                    _policy_error(editor, text, error)
                else:
                    self.done(f"Saved the lifecycle policy of {repository.name}: images expire at the next daily run.")
                    return redirect("console:repository-lifecycle", name=repository.name)
        return self.failed(repository, editor, status=400)

    def preview(self, name: str):
        repository = self.repository_named(name, action="ecr:StartLifecyclePolicyPreview")
        self.authorize("ecr:StartLifecyclePolicyPreview", repository=repository)
        editor = LifecyclePolicyForm(self.request.POST)
        if editor.is_valid():
            text = editor.cleaned_data["lifecycle_policy_text"]
            try:
                lifecycle_services.start_lifecycle_policy_preview(
                    repository=repository, text=text if text.strip() else None, actor=self.actor, context=self.context
                )
            except LifecyclePolicyInvalid as error:
                _policy_error(editor, text, error)
            except LifecyclePolicyNotFound:
                editor.add_error(
                    "lifecycle_policy_text", "The editor is empty and there is no saved policy: write one to preview."
                )
            else:
                return redirect(f"/console/repositories/{repository.name}/-/lifecycle?previewed#lifecycle-preview")
        return self.failed(repository, editor, status=400)

    def delete(self, name: str):
        repository = self.repository_named(name, action="ecr:DeleteLifecyclePolicy")
        self.authorize("ecr:DeleteLifecyclePolicy", repository=repository)
        try:
            lifecycle_services.delete_lifecycle_policy(repository=repository, actor=self.actor, context=self.context)
        except LifecyclePolicyNotFound:
            editor = LifecyclePolicyForm(initial={"lifecycle_policy_text": ""})
            return self.failed(
                repository,
                editor,
                status=404,
                problem=f"Repository {repository.name} has no lifecycle policy to delete.",
            )
        self.done(f"Deleted the lifecycle policy of {repository.name}.")
        return redirect("console:repository-lifecycle", name=repository.name)

    # -- rendering --

    def _preview(self, repository: Repository):
        if not self.allowed("ecr:GetLifecyclePolicyPreview", repository=repository):
            return None
        return lifecycle_selectors.preview_of(repository)

    def failed(self, repository, editor, *, status: int, problem: str = ""):
        stored = (
            lifecycle_selectors.policy_of(repository)
            if self.allowed("ecr:GetLifecyclePolicy", repository=repository)
            else None
        )
        return self.page(repository, stored, self._preview(repository), editor, status=status, problem=problem)

    def page(self, repository, stored, preview, editor, *, status: int = 200, problem: str = ""):
        policy_error = editor.errors.get("lifecycle_policy_text", [""])[0] if editor.is_bound else ""
        rows, rules = _preview_rows(preview)
        context = {
            "repository": repository,
            "tab": "lifecycle",
            "stored": stored,
            "preview": preview,
            "preview_rows": rows,
            "preview_rules": rules,
            "preview_total": len(preview.results) if preview is not None else 0,
            "preview_hidden": max(0, len(preview.results) - PREVIEW_ROWS) if preview is not None else 0,
            "preview_in_progress": preview is not None and preview.status == PreviewStatus.IN_PROGRESS,
            "preview_of_saved": preview is not None and stored is not None and preview.text == stored.text,
            "editor": editor,
            "policy_error": policy_error,
            "policy_error_where": error_location(policy_error) if policy_error else {},
            "problem": problem,
            "example": EXAMPLE_LIFECYCLE_POLICY,
            "may_save": self.allowed("ecr:PutLifecyclePolicy", repository=repository),
            "may_delete": stored is not None and self.allowed("ecr:DeleteLifecyclePolicy", repository=repository),
            "may_preview": self.allowed("ecr:StartLifecyclePolicyPreview", repository=repository),
        }
        return self.render(context, status=status)


def _policy_error(editor: LifecyclePolicyForm, text: str, error: LifecyclePolicyInvalid) -> None:
    """ECR's message; for text that is not JSON, with where the JSON breaks."""
    message = str(error)
    try:
        json.loads(text)
    except json.JSONDecodeError as broken:
        message = f"{message} (malformed JSON: {broken.msg} at line {broken.lineno} column {broken.colno})"
    editor.add_error("lifecycle_policy_text", message)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _preview_rows(preview) -> tuple[list[PreviewRow], list[lifecycle_policy.Rule]]:
    """The preview's first PREVIEW_ROWS images, each with the rule that expires it, and the previewed rules."""
    if preview is None:
        return [], []
    try:
        rules = lifecycle_policy.parse(preview.text)
    except LifecyclePolicyInvalid:
        rules = []  # a preview stored by an older Berth whose rules no longer parse: priorities alone
    described = {rule.priority: rule.description for rule in rules}
    rows = [
        PreviewRow(
            digest=result["imageDigest"],
            tags=result.get("imageTags") or [],
            pushed_at=_moment(result.get("imagePushedAt")),
            last_pulled_at=_moment(result.get("lastPulledAt")),
            priority=result["appliedRulePriority"],
            rule=described.get(result["appliedRulePriority"], ""),
            also_expires=len(result.get("alsoExpires") or []),
        )
        for result in preview.results[:PREVIEW_ROWS]
    ]
    return rows, rules


urlpatterns = [
    path("/repositories/<repo:name>/-/permissions", RepositoryPermissions.as_view(), name="repository-permissions"),
    path(
        "/repositories/<repo:name>/-/permissions/simulate",
        RepositoryPolicySimulation.as_view(),
        name="repository-permissions-simulate",
    ),
    path("/repositories/<repo:name>/-/lifecycle", RepositoryLifecycle.as_view(), name="repository-lifecycle"),
]
