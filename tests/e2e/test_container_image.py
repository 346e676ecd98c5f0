"""Berth's image (the repository's Containerfile): built with buildah, pushed with skopeo
into a live Berth, inspected there, and run from its own root file system.

Marked ``image``: the suite's passes leave it out (pyproject.toml's addopts) and
``scripts/test`` runs it as a step of its own, once::

    .venv/bin/python -m pytest -m image tests/e2e/test_container_image.py

No image registry but Berth is reachable here (Debian's mirror and PyPI are), so the
base image is made on the spot: Debian bookworm by ``debootstrap --variant=minbase``
(its python3 is 3.11) committed into buildah's storage, given to the Containerfile as
``--build-arg BASE``; operators build on the default, python:3.11-slim-bookworm. The
runtime packages come from a wheelhouse made by this venv's pip (its cache) in the
build context, so the build itself is offline. The base's root file system and
debootstrap's packages are kept in BERTH_TEST_IMAGE_CACHE (default
~/.cache/berth-tests/image) for BERTH_TEST_BASE_MAX_AGE_DAYS (7); buildah's storage (BERTH_TEST_BUILDAH_DRIVER, default overlay; vfs where overlay is
not available) lives in the test's temporary directory and goes with it.

No container runtime (no Docker or Podman daemon) runs images on these machines: the
image is run with ``buildah run --isolation chroot`` (the host's network, its own root
file system, the image's user), which is enough to start ``berth serve`` from it and
talk to it over HTTP.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, _free_port, in_ci, need, processes_marked, run_isolated, tracebacks_in

pytestmark = [pytest.mark.image]

DEBIAN_MIRROR = os.environ.get("BERTH_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# The base's root file system (and debootstrap's packages) are kept here between runs,
# remade when older than BERTH_TEST_BASE_MAX_AGE_DAYS (Debian's updates reach the image).
CACHE = Path(os.environ.get("BERTH_TEST_IMAGE_CACHE", Path.home() / ".cache" / "berth-tests" / "image"))
BASE_MAX_AGE = float(os.environ.get("BERTH_TEST_BASE_MAX_AGE_DAYS", "7")) * 86400
DRIVER = os.environ.get("BERTH_TEST_BUILDAH_DRIVER", "overlay")
BASE_REF = "localhost/berth-test-base:bookworm"
IMAGE_REF = "localhost/berth:test"
# What the Containerfile reads from the build context.
CONTEXT_FILES = ["Containerfile", "pyproject.toml", "README.md", "requirements.txt", "manage.py"]
CONTEXT_DIRS = ["registry_project", "apps", "berth_cli", "templates", "static"]
BUILD_TIMEOUT = 1200


def _timed(timings: dict, name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 1)


class Buildah:
    """buildah with storage of its own under ``root`` (nothing in /var/lib/containers)."""

    def __init__(self, root: Path):
        self.root = root
        self.args = ["buildah", "--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver"]
        self.args.append(DRIVER)

    def __call__(self, *args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        res = subprocess.run([*self.args, *args], capture_output=True, text=True, timeout=timeout, **kwargs)
        if res.returncode != 0:
            raise AssertionError(
                f"buildah {' '.join(args)} failed (rc={res.returncode})\n"
                f"--- stdout\n{res.stdout[-6000:]}\n--- stderr\n{res.stderr[-6000:]}"
            )
        return res

    def clean(self) -> None:
        """Remove every container and image (their overlay mounts go with them)."""
        for args in (["rm", "--all"], ["rmi", "--all", "--force"]):
            subprocess.run([*self.args, *args], capture_output=True, timeout=120)
        with open("/proc/self/mounts") as mounts:
            left = [line.split()[1] for line in mounts if line.split()[1].startswith(str(self.root))]
        for mountpoint in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", "-l", mountpoint], capture_output=True, timeout=30)


def _debian_base(buildah: Buildah, work: Path, timings: dict) -> None:
    """Debian bookworm (minbase, python3, python3-venv, CA certificates) as BASE_REF:
    its root file system from the cache when younger than BASE_MAX_AGE, else debootstrapped
    (its packages cached) and kept for the next run."""
    tarball = CACHE / "bookworm-python3-rootfs.tar"
    fresh = tarball.exists() and time.time() - tarball.stat().st_mtime < BASE_MAX_AGE
    timings["base cached"] = fresh
    if not fresh:
        started = time.monotonic()
        rootfs = work / "rootfs"
        (CACHE / "debootstrap").mkdir(parents=True, exist_ok=True)
        res = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                f"--cache-dir={CACHE / 'debootstrap'}",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
        assert res.returncode == 0, f"debootstrap failed\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = tarball.with_suffix(f".{os.getpid()}.partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True, timeout=300)
        partial.replace(tarball)
        shutil.rmtree(rootfs)
        _timed(timings, "debootstrap", started)
    started = time.monotonic()
    container = buildah("from", "scratch").stdout.strip()
    buildah("add", container, str(tarball), "/")
    buildah("config", "--cmd", "/bin/bash", "--os", "linux", "--arch", "amd64", container)
    buildah("commit", "--rm", container, BASE_REF)
    _timed(timings, "base import", started)


def _context(work: Path, timings: dict) -> Path:
    """The files the Containerfile uses, and wheels/ with every runtime package."""
    started = time.monotonic()
    context = work / "context"
    context.mkdir()
    for name in CONTEXT_FILES:
        shutil.copy2(REPO_ROOT / name, context / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in CONTEXT_DIRS:
        shutil.copytree(REPO_ROOT / name, context / name, ignore=ignore)
    runtime = context / "runtime-requirements.txt"
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    runtime.write_text("\n".join(lines[: lines.index("# Lint and format (scripts/test runs both first)")]) + "\n")
    # setuptools builds Berth itself (pyproject's build-system); Debian's 3.11.2 is older
    # than 3.11.3, for which redis needs the async-timeout backport this venv's pip skips.
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-r", str(runtime)]
        + ["setuptools>=68", "async-timeout>=4.0.3", "-w", str(context / "wheels")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert res.returncode == 0, f"pip wheel failed\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    runtime.unlink()
    _timed(timings, "wheelhouse", started)
    return context


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    for tool in ("buildah", "skopeo", "debootstrap"):
        need(tool)
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail("the image test builds as root (debootstrap, buildah's storage)")
        pytest.skip("the image test builds as root (debootstrap, buildah's storage)")
    work = tmp_path_factory.mktemp("image")
    buildah = Buildah(work / "buildah")
    timings: dict[str, float] = {}
    try:
        _debian_base(buildah, work, timings)
        context = _context(work, timings)
        version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
        started = time.monotonic()
        cpu = os.times()
        buildah(
            "bud",
            "--format",
            "docker",
            "--isolation",
            "chroot",
            "--layers=false",
            "--build-arg",
            f"BASE={BASE_REF}",
            "--build-arg",
            f"VERSION={version}",
            "--tag",
            IMAGE_REF,
            "--file",
            str(context / "Containerfile"),
            str(context),
            timeout=BUILD_TIMEOUT,
        )
        after = os.times()
        _timed(timings, "build", started)
        timings["build cpu"] = round(
            after.children_user + after.children_system - cpu.children_user - cpu.children_system, 1
        )
        shutil.rmtree(context)
        started = time.monotonic()
        exported = work / "exported"
        # the dir: transport keeps the Docker schema 2 manifest and config as built (HEALTHCHECK included)
        buildah("push", "--format", "v2s2", IMAGE_REF, f"dir:{exported}", timeout=600)
        _timed(timings, "export", started)
        layers = json.loads((exported / "manifest.json").read_text())["layers"]
        timings["compressed MB"] = [round(layer["size"] / 1e6, 1) for layer in layers]
        yield {"buildah": buildah, "exported": exported, "version": version, "timings": timings}
    finally:
        buildah.clean()
        shutil.rmtree(work, ignore_errors=True)
        print(f"\nimage figures (seconds; layer sizes): {json.dumps(timings)}")


@pytest.fixture(scope="module")
def pushed(image, berth, tmp_path_factory):
    """The image copied by skopeo into an account's repository on the live Berth."""
    acct = berth.create_account("Image Owner Co")
    berth.create_repository(acct.account_id, "berth")
    tmp = tmp_path_factory.mktemp("skopeo")
    ref = f"{berth.host}/{acct.account_id}/berth:{image['version']}"
    started = time.monotonic()
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", acct.creds]
        + ["--digestfile", str(tmp / "digest"), f"dir:{image['exported']}", f"docker://{ref}"],
        tmp,
        timeout=600,
    )
    _timed(image["timings"], "push", started)
    return {"ref": ref, "acct": acct, "tmp": tmp, "digest": (tmp / "digest").read_text().strip()}


def _inspect(pushed, *flags: str) -> str:
    res = run_isolated(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--creds",
            pushed["acct"].creds,
            *flags,
            f"docker://{pushed['ref']}",
        ],
        pushed["tmp"],
    )
    return res.stdout


def test_the_registry_hosts_its_own_image(image, pushed):
    built = (image["exported"] / "manifest.json").read_bytes()
    manifest = json.loads(built)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"

    # the manifest Berth serves is the one buildah wrote, byte for byte, under the digest skopeo pushed
    assert _inspect(pushed, "--raw").encode() == built
    info = json.loads(_inspect(pushed))
    assert info["Digest"] == pushed["digest"]
    assert info["Layers"] == [layer["digest"] for layer in manifest["layers"]]
    # the base's layer and Berth's own (the final stage's steps, one layer)
    assert len(info["Layers"]) == 2
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"

    # the config blob Berth serves is the one buildah wrote
    raw_config = _inspect(pushed, "--config", "--raw").encode()
    assert raw_config == (image["exported"] / manifest["config"]["digest"].split(":")[1]).read_bytes()
    config = json.loads(raw_config)
    c = config["config"]
    assert c["Entrypoint"] == ["berth"]
    assert c["Cmd"] == ["serve", "--no-worker"]
    assert c["User"] == "berth:berth"
    assert c["WorkingDir"] == "/var/lib/berth"
    assert set(c["ExposedPorts"]) == {"5000/tcp"}
    assert set(c["Volumes"]) == {"/var/lib/berth"}
    env = dict(item.split("=", 1) for item in c["Env"])
    assert env["BERTH_DATA_DIR"] == "/var/lib/berth"
    assert env["BERTH_STATIC_ROOT"] == "/opt/berth/static"
    assert env["BERTH_BIND"] == "0.0.0.0:5000"
    assert env["PATH"].startswith("/opt/berth/venv/bin:")
    assert c["Labels"]["org.opencontainers.image.title"] == "Berth"
    assert c["Labels"]["org.opencontainers.image.version"] == image["version"]
    assert "/healthz" in " ".join(c["Healthcheck"]["Test"])
    # each layer's uncompressed digest is in the config, in order
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])


def test_the_image_runs_berth(image, berth, pushed):
    """From the image's root file system: the version, the packages, the user, then
    `berth serve` answering HTTP with the static files collected at build time."""
    buildah = image["buildah"]
    container = buildah("from", "--pull-never", IMAGE_REF).stdout.strip()
    run = ["run", "--isolation", "chroot", container, "--"]
    assert buildah(*run, "berth", "--version").stdout.strip() == f"berth, version {image['version']}"
    assert buildah(*run, "id", "-u").stdout.strip() == "10001"
    out = buildah(*run, "python3", "-c", "import sys, django, psycopg, celery, boto3; print(sys.version_info[:2])")
    assert out.stdout.strip() == "(3, 11)"
    # the tools and tests stay out of the image
    out = buildah(*run, "sh", "-c", "ls /opt/berth/venv/lib/python3.11/site-packages; ls /opt/berth/app/apps/registry")
    assert "pytest" not in out.stdout and "ruff" not in out.stdout and "moto" not in out.stdout
    assert "tests" not in out.stdout.split()
    assert buildah(*run, "test", "-f", "/opt/berth/static/staticfiles.json").returncode == 0

    port = _free_port()
    mark = secrets.token_hex(8)
    log_path = pushed["tmp"] / "image-serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*buildah.args, "run", "--isolation", "chroot", "--env", f"BERTH_TEST_SERVER_MARK={mark}"]
            + [container, "--", "berth", "serve", "--bind", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        status = _wait_for(url + "/v2/", proc, log_path)
        assert status == 401  # the registry's challenge
        with urllib.request.urlopen(url + "/static/staticfiles.json", timeout=10) as r:
            assert r.status == 200
        assert _status(url + "/healthz") == 200
        assert _status(url + "/readyz") == 200  # database, store and spool, from inside the image
        # the image's HEALTHCHECK command, from another container of the image
        probe = "/readyz"
        checker = buildah("from", "--pull-never", IMAGE_REF).stdout.strip()
        buildah(  # fails the test unless it exits 0
            *["run", "--isolation", "chroot", "--env", f"BERTH_BIND=127.0.0.1:{port}", checker, "--"],
            *json.loads(_inspect(pushed, "--config", "--raw"))["config"]["Healthcheck"]["Test"][1:-1],
            probe,
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for pid in processes_marked(mark):
            os.kill(pid, signal.SIGKILL)
    text = log_path.read_text(errors="replace")
    assert "Berth serving on" in text
    assert not tracebacks_in(text), text[-6000:]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _wait_for(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"berth serve in the image exited with {proc.returncode}\n{log_path.read_text()[-6000:]}"
            )
        try:
            return _status(url)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"berth serve in the image did not answer {url} in {timeout}s\n{log_path.read_text()[-6000:]}")
