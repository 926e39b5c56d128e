"""Build (or reuse) the Docker image the ``docker`` sandbox runs workers in.

Two ways to get a base image:

- ``--registry-free`` (default): ``debootstrap`` a minimal Debian bookworm root file system with
  ``python3`` from the same apt mirror this host uses, and ``docker import`` it as
  ``backprop-grader-base:bookworm``. Needs root, debootstrap and the apt mirror; no image registry.
- ``--from-registry``: ``python:3.11-slim-bookworm`` from Docker Hub.

Either way numpy (pinned to the host's version) and the CPU build of torch are downloaded on the host
into a wheelhouse and installed offline during ``docker build`` (``docker/Dockerfile``). The build
context holds only ``docker/Dockerfile``, ``grader/worker/`` and the wheelhouse, never ``reference/``
or other grader code.

A fingerprint over the Dockerfile, the worker files, the pinned requirements, the base image's
recipe and the build arguments names the image ``backprop-grader-worker:<fingerprint12>``; when that
tag exists the build is skipped (nothing is downloaded) and only ``backprop-grader-worker:latest`` is
(re)pointed at it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from grader.sandbox.base import WORKER_DIR, SandboxUnavailable
from grader.sandbox.docker import (
    DEFAULT_IMAGE,
    IMAGE_REPOSITORY,
    connect,
    image_is_current,
)

REPO_ROOT = WORKER_DIR.parent.parent
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "image"

CODENAME = "bookworm"
BASE_IMAGE = f"backprop-grader-base:{CODENAME}"
#: How the registry-free base is made; part of the image fingerprint instead of the base's image id.
BASE_RECIPE = f"debootstrap --variant=minbase --include=python3 {CODENAME}"
REGISTRY_BASE_IMAGE = "python:3.11-slim-bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

TORCH_VERSION = "2.13.0"
#: The local version label keeps pip from ever picking the multi-GB CUDA build of the same release.
TORCH_REQUIREMENT = f"torch=={TORCH_VERSION}+cpu"
PYTHON_VERSION = "3.11"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"

FINGERPRINT_LABEL = "backprop-grader.fingerprint"
WHEELHOUSE_MANIFEST = "manifest.json"

Log = Callable[[str], None]


# --------------------------------------------------------------------------- fingerprints


def worker_files(worker_dir: Path = WORKER_DIR) -> list[Path]:
    """The files of ``grader/worker`` that go into the image (no byte code caches), sorted."""
    files = []
    for path in sorted(worker_dir.rglob("*")):
        rel = path.relative_to(worker_dir)
        if "__pycache__" in rel.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if path.is_file() and not path.is_symlink():
            files.append(path)
    return files


def files_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 over ``(relative path, contents)`` pairs, in path order."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def worker_digest(worker_dir: Path = WORKER_DIR) -> str:
    """SHA-256 over the worker files' relative paths and contents; the image carries it as a label."""
    files = worker_files(worker_dir)
    return files_digest((path.relative_to(worker_dir).as_posix(), path.read_bytes()) for path in files)


def archive_digest(archive: bytes) -> str:
    """:func:`worker_digest` of a folder given as a tar archive whose top folder is the worker folder
    (what the engine returns for ``/opt/worker``)."""
    files = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")[1:]
            if not member.isfile() or not parts or "__pycache__" in parts or member.name.endswith((".pyc", ".pyo")):
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                files.append(("/".join(parts), handle.read()))
    return files_digest(files)


def image_fingerprint(
    dockerfile: bytes, worker_sha256: str, requirements: Iterable[str], base_recipe: str, build_args: dict
) -> str:
    """What decides the image's content: a change in any input gives a new tag and a new build.

    Only declared inputs count (the pinned requirements and the base image's recipe, not the
    resolved wheel files or the base image's id), so deciding to reuse an image downloads nothing.
    """
    digest = hashlib.sha256()
    digest.update(hashlib.sha256(dockerfile).digest())
    digest.update(worker_sha256.encode() + b"\0")
    for name in sorted(requirements):
        digest.update(name.encode() + b"\0")
    digest.update(base_recipe.encode() + b"\0")
    digest.update(json.dumps(build_args, sort_keys=True).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- apt mirror


def _deb822_paragraphs(text: str) -> Iterable[dict[str, str]]:
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return


def apt_mirror(codename: str = CODENAME, apt_dir: Path = Path("/etc/apt")) -> str | None:
    """The first enabled ``deb`` source for ``codename`` in the host's apt configuration, or None.

    Reads one-line ``sources.list``/``*.list`` files and deb822 ``*.sources`` files, so debootstrap
    uses the mirror apt already reaches here.
    """
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    deb822 = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in one_line:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 3 and words[0] == "deb":
                    rest = words[1:]
                    if rest[0].startswith("["):  # options: [arch=amd64 signed-by=...]
                        while rest and not rest[0].endswith("]"):
                            rest = rest[1:]
                        rest = rest[1:]
                    if len(rest) >= 2 and rest[1] == codename and _usable_uri(rest[0]):
                        return rest[0].rstrip("/")
    for path in deb822:
        with contextlib.suppress(OSError):
            for fields in _deb822_paragraphs(path.read_text()):
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                if codename not in fields.get("suites", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    if _usable_uri(uri):
                        return uri.rstrip("/")
    return None


def _usable_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "file:/"))


def _check_mirror(mirror: str, codename: str) -> None:
    url = f"{mirror}/dists/{codename}/Release"
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            response.read(1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise SandboxUnavailable(
            f"the apt mirror {mirror} does not answer ({reason}): check the network or pass --mirror URL"
        ) from None


# --------------------------------------------------------------------------- base image


def ensure_base_image(client, cache_dir: Path, mirror: str | None, log: Log) -> str:
    """Return the id of ``backprop-grader-base:bookworm``, making it with debootstrap if missing."""
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        image = client.images.get(BASE_IMAGE)
        log(f"base image {BASE_IMAGE} exists ({image.short_id}), reusing it")
        return image.id

    if shutil.which("debootstrap") is None:
        raise SandboxUnavailable(
            "debootstrap is not installed: `apt-get install debootstrap`, or build with --from-registry"
        )
    if os.geteuid() != 0:
        raise SandboxUnavailable("debootstrap needs root: run `grade image build` as root, or use --from-registry")
    if mirror is None:
        mirror = apt_mirror() or DEFAULT_MIRROR
    _check_mirror(mirror, CODENAME)

    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_dir))
    rootfs, tarball, logfile = work / "rootfs", work / "rootfs.tar", cache_dir / "debootstrap.log"
    try:
        log(f"debootstrap {CODENAME} (minbase + python3) from {mirror}; log in {logfile}")
        started = time.monotonic()
        with logfile.open("wb") as out:
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", "--include=python3", CODENAME, str(rootfs), mirror],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if result.returncode != 0:
            errors = [line for line in logfile.read_text(errors="replace").splitlines() if line.startswith("E:")]
            detail = errors[-1] if errors else f"exit status {result.returncode}"
            raise SandboxUnavailable(f"debootstrap failed ({detail}); full log in {logfile}")
        log(f"debootstrap done in {time.monotonic() - started:.0f} s")
        _prune_rootfs(rootfs)
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball),
             "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "."],
            check=True,
        )  # fmt: skip
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=tag,
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["/bin/bash"]',
                f'LABEL org.opencontainers.image.description="Debian {CODENAME} minbase with python3 '
                f'(debootstrap from {mirror})"',
            ],
        )
        image = client.images.get(BASE_IMAGE)
        log(f"imported {BASE_IMAGE} ({image.short_id}, {image.attrs['Size'] / 2**20:.0f} MiB)")
        return image.id
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prune_rootfs(rootfs: Path) -> None:
    """Drop what a worker never reads: package caches, apt lists, manuals, docs (keeping licences)."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/man", "usr/share/info",
                "usr/share/locale", "var/log"):  # fmt: skip
        target = rootfs / sub
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name not in {"lock", "partial"}:
                    child.unlink()
    docs = rootfs / "usr/share/doc"
    if docs.is_dir():
        for path in docs.rglob("*"):
            if (path.is_file() or path.is_symlink()) and path.name != "copyright":
                path.unlink()


def ensure_registry_base(client, log: Log) -> str:
    """Return the id of ``python:3.11-slim-bookworm``, pulling it only when it is not here yet."""
    import docker.errors

    try:
        return client.images.get(REGISTRY_BASE_IMAGE).id
    except docker.errors.ImageNotFound:
        pass
    log(f"pulling {REGISTRY_BASE_IMAGE}")
    try:
        repository, tag = REGISTRY_BASE_IMAGE.split(":")
        return client.images.pull(repository, tag=tag).id
    except docker.errors.APIError as error:
        raise SandboxUnavailable(
            f"cannot pull {REGISTRY_BASE_IMAGE} ({error.explanation or error}): "
            "use --registry-free to build without a registry"
        ) from None


# --------------------------------------------------------------------------- wheelhouse


def host_numpy_version() -> str:
    """numpy's version on the host: the image gets the same, so both sides compute alike."""
    try:
        return importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        raise SandboxUnavailable("numpy is not installed on the host: `pip install numpy`") from None


def pip_version() -> str:
    return importlib.metadata.version("pip")


def prepare_wheelhouse(wheelhouse: Path, requirements: list[str], log: Log, index_url: str | None = None) -> list[str]:
    """Download wheels for ``requirements`` (and their dependencies) for CPython 3.11 on x86_64.

    Reuses the folder when its manifest lists the same requirements and every wheel is still there.
    Returns the wheel file names.
    """
    manifest_path = wheelhouse / WHEELHOUSE_MANIFEST
    wanted = {"requirements": requirements, "python": PYTHON_VERSION, "platform": WHEEL_PLATFORM}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        if {k: manifest.get(k) for k in wanted} == wanted and all(
            (wheelhouse / name).is_file() and (wheelhouse / name).stat().st_size == size for name, size in files.items()
        ):
            log(f"wheelhouse {wheelhouse} is up to date ({len(files)} wheels)")
            return sorted(files)

    wheelhouse.mkdir(parents=True, exist_ok=True)
    for stale in wheelhouse.glob("*.whl"):
        stale.unlink()
    log(f"downloading wheels into {wheelhouse}: {' '.join(requirements)}")
    command = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--progress-bar", "off",
        "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--abi", f"cp{PYTHON_VERSION.replace('.', '')}", "--platform", WHEEL_PLATFORM,
        "--dest", str(wheelhouse),
    ]  # fmt: skip
    if index_url:
        command += ["--extra-index-url", index_url]
    result = subprocess.run(command + requirements, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or [
            f"exit status {result.returncode}"
        ]
        hint = " (the CPU build of torch: pass --torch-index https://download.pytorch.org/whl/cpu)"
        raise SandboxUnavailable(f"pip download failed: {lines[-1]}{hint if 'torch' in lines[-1] else ''}")
    files = {path.name: path.stat().st_size for path in sorted(wheelhouse.glob("*.whl"))}
    if not any(name.startswith("torch-") for name in files):
        raise SandboxUnavailable(f"pip download left no torch wheel in {wheelhouse}")
    manifest_path.write_text(json.dumps({**wanted, "files": files}, indent=1))
    total = sum(files.values())
    log(f"wheelhouse: {len(files)} wheels, {total / 2**20:.0f} MiB")
    return sorted(files)


# --------------------------------------------------------------------------- build


@dataclasses.dataclass
class BuildReport:
    """What ``build_image`` made or found."""

    tag: str
    fingerprint_tag: str
    image_id: str
    size_bytes: int
    versions: dict
    elapsed_seconds: float
    reused: bool

    def summary(self) -> str:
        what = "reused" if self.reused else "built"
        versions = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        return (
            f"{what} {self.tag} = {self.fingerprint_tag}\n"
            f"  image id  {self.image_id}\n"
            f"  size      {self.size_bytes / 2**20:.0f} MiB\n"
            f"  inside    {versions}\n"
            f"  elapsed   {self.elapsed_seconds:.1f} s"
        )


def _context_tar(path: Path, wheelhouse: Path, wheel_names: list[str]) -> None:
    """Write the build context: the Dockerfile, ``grader/worker`` and the wheels, nothing else."""

    def add(tar: tarfile.TarFile, source: Path, name: str) -> None:
        info = tar.gettarinfo(str(source), arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        info.mtime = 0  # the same files give the same context, so the engine's layer cache can hit
        with source.open("rb") as handle:
            tar.addfile(info, handle)

    with tarfile.open(path, "w") as tar:
        add(tar, DOCKERFILE, "docker/Dockerfile")
        for source in worker_files():
            add(tar, source, "grader/worker/" + source.relative_to(WORKER_DIR).as_posix())
        for name in wheel_names:
            add(tar, wheelhouse / name, f"wheelhouse/{name}")


def _git_revision() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def image_versions(client, image_id: str) -> dict:
    """Run the image once (no network) and report the versions of Python, numpy and torch inside."""
    code = (
        "import json, platform, numpy, torch; "
        "print(json.dumps({'python': platform.python_version(), 'numpy': numpy.__version__, "
        "'torch': torch.__version__}))"
    )
    output = client.containers.run(
        image_id, ["python3", "-I", "-B", "-c", code], network_mode="none", remove=True, read_only=True
    )
    return json.loads(output.decode().strip().splitlines()[-1])


def build_image(
    *,
    registry_free: bool = True,
    tag: str = DEFAULT_IMAGE,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    mirror: str | None = None,
    torch_index: str | None = None,
    rebuild: bool = False,
    log: Log = print,
) -> BuildReport:
    """Build the sandbox image, or reuse the one with the same fingerprint, and tag it ``tag``.

    Raises :class:`SandboxUnavailable` with a one-line reason when something needed is missing.
    """
    import docker.errors

    started = time.monotonic()
    if not DOCKERFILE.is_file():
        raise SandboxUnavailable(f"{DOCKERFILE} is missing: build the image from a source checkout")
    if not (WORKER_DIR / "shim.py").is_file():
        raise SandboxUnavailable(f"{WORKER_DIR / 'shim.py'} is missing: build the image from a complete checkout")
    client = connect(timeout=3600)
    try:
        base_ref, base_recipe = (
            (BASE_IMAGE, BASE_RECIPE) if registry_free else (REGISTRY_BASE_IMAGE, REGISTRY_BASE_IMAGE)
        )
        numpy_version = host_numpy_version()
        requirements = [f"pip=={pip_version()}", f"numpy=={numpy_version}", TORCH_REQUIREMENT]
        worker_sha = worker_digest()
        build_args = {"BASE": base_ref, "NUMPY_VERSION": numpy_version, "TORCH_VERSION": TORCH_VERSION}
        fingerprint = image_fingerprint(DOCKERFILE.read_bytes(), worker_sha, requirements, base_recipe, build_args)
        fingerprint_tag = f"{IMAGE_REPOSITORY}:{fingerprint[:12]}"

        image = None
        if not rebuild:
            with contextlib.suppress(docker.errors.ImageNotFound):
                image = client.images.get(fingerprint_tag)
                log(f"{fingerprint_tag} exists and nothing it is built from changed: reusing it")
        reused = image is not None
        if image is None:
            if registry_free:
                ensure_base_image(client, cache_dir, mirror, log)
            else:
                ensure_registry_base(client, log)
            wheelhouse = cache_dir / "wheelhouse"
            wheel_names = prepare_wheelhouse(wheelhouse, requirements, log, index_url=torch_index)
            image = _docker_build(
                client, cache_dir, wheelhouse, wheel_names, fingerprint_tag, fingerprint,
                {**build_args, "WORKER_SHA256": worker_sha}, log,
            )  # fmt: skip
        repository, _, name = tag.rpartition(":")
        if not repository or "/" in name:
            repository, name = tag, "latest"
        image.tag(repository, name)
        versions = image_versions(client, image.id)
        return BuildReport(
            tag=f"{repository}:{name}",
            fingerprint_tag=fingerprint_tag,
            image_id=image.id,
            size_bytes=image.attrs["Size"],
            versions=versions,
            elapsed_seconds=time.monotonic() - started,
            reused=reused,
        )
    finally:
        client.close()


def _docker_build(client, cache_dir, wheelhouse, wheel_names, fingerprint_tag, fingerprint, build_args, log):
    cache_dir.mkdir(parents=True, exist_ok=True)
    build_args = {
        **build_args,
        "CREATED": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "REVISION": _git_revision(),
    }
    log(f"docker build {fingerprint_tag} (base {build_args['BASE']})")
    with tempfile.NamedTemporaryFile(prefix="context-", suffix=".tar", dir=cache_dir) as context:
        _context_tar(Path(context.name), wheelhouse, wheel_names)
        context.seek(0)
        image_id = None
        for chunk in client.api.build(
            fileobj=context,
            custom_context=True,
            dockerfile="docker/Dockerfile",
            tag=fingerprint_tag,
            buildargs=build_args,
            labels={FINGERPRINT_LABEL: fingerprint},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=3600,
        ):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise SandboxUnavailable(f"docker build failed: {detail.strip().splitlines()[-1]}")
            text = chunk.get("stream", "").rstrip()
            if text:
                log("  " + text)
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    image = client.images.get(image_id or fingerprint_tag)
    return image


def image_status(tag: str = DEFAULT_IMAGE) -> str:
    """One line: whether ``tag`` exists and whether its worker files match ``grader/worker``."""
    import docker.errors

    client = connect()
    try:
        image = client.images.get(tag)
        fresh = image_is_current(client, image.attrs)
    except docker.errors.ImageNotFound:
        return f"{tag}: not built (run `grade image build`)"
    finally:
        client.close()
    state = "up to date" if fresh else "stale: grader/worker changed since it was built (run `grade image build`)"
    return f"{tag}: {image.short_id}, {image.attrs['Size'] / 2**20:.0f} MiB, {state}"


# --------------------------------------------------------------------------- command line


@click.group("image", help="Build or inspect the Docker image the `docker` sandbox runs workers in.")
def image_group() -> None:
    pass


@image_group.command("build")
@click.option(
    "--registry-free/--from-registry",
    default=True,
    show_default=True,
    help="Base image from debootstrap + docker import (no registry), or python:3.11-slim-bookworm.",
)
@click.option("--tag", default=DEFAULT_IMAGE, show_default=True, help="Tag to point at the image.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CACHE_DIR,
    show_default=True,
    help="Where the wheelhouse and the debootstrap log are kept.",
)
@click.option("--mirror", default=None, help="Debian mirror for debootstrap (default: the host's apt source).")
@click.option("--torch-index", default=None, help="Extra index with torch's CPU wheels for pip download.")
@click.option("--rebuild", is_flag=True, help="Build even when an image with the same fingerprint exists.")
def build_command(
    registry_free: bool, tag: str, cache_dir: Path, mirror: str | None, torch_index: str | None, rebuild: bool
) -> None:
    """Build the sandbox image, or reuse an identical one."""
    try:
        report = build_image(
            registry_free=registry_free,
            tag=tag,
            cache_dir=cache_dir,
            mirror=mirror,
            torch_index=torch_index,
            rebuild=rebuild,
            log=lambda line: click.echo(line, err=True),
        )
    except SandboxUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(report.summary())


@image_group.command("status")
@click.option("--tag", default=DEFAULT_IMAGE, show_default=True)
def status_command(tag: str) -> None:
    """Say whether the sandbox image is built and up to date with grader/worker."""
    try:
        click.echo(image_status(tag))
    except SandboxUnavailable as error:
        raise click.ClickException(str(error)) from None


@image_group.command("cleanup")
@click.option("--all", "all_owners", is_flag=True, help="Also remove workers of graders that are still running.")
def cleanup_command(all_owners: bool) -> None:
    """Remove worker containers left behind by graders that were killed (each grader also does this at start)."""
    from grader.sandbox.docker import remove_leftover_containers

    try:
        removed = remove_leftover_containers(all_owners=all_owners)
    except SandboxUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"removed {removed} leftover worker container{'s' if removed != 1 else ''}")
