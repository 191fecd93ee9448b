"""Build the Lambda dependency layer and the application zip.

The layer is ``pip install --target python/ --platform ... --only-binary=:all:`` for the chosen
runtime and architecture, so it builds on any machine (no Docker): only manylinux wheels that the
runtime's glibc can load are accepted, which is what caps pyarrow at 20.x on python3.11 (Amazon
Linux 2, glibc 2.26). It is then trimmed (caches, headers, test suites, pyarrow's Flight, and
boto3/botocore, which every Lambda Python runtime ships) and zipped reproducibly,
so an unchanged layer has an unchanged hash and ``snowpg deploy`` publishes no new version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from snowpg.errors import ConfigError, SnowpgError

MiB = 1024 * 1024
# Lambda's limits: function code plus all layers unzipped, and a zip sent in the API call itself.
MAX_UNZIPPED_BYTES = 250 * MiB
MAX_DIRECT_UPLOAD_BYTES = 50 * MiB

# Runtime -> (Python version, newest glibc of its Amazon Linux).
RUNTIMES: dict[str, tuple[str, int]] = {
    "python3.11": ("3.11", 26),  # Amazon Linux 2
    "python3.12": ("3.12", 34),  # Amazon Linux 2023
    "python3.13": ("3.13", 34),
}
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Pins that spare pip a long backtrack where the glibc cap decides anyway.
CONSTRAINTS: dict[str, tuple[str, ...]] = {"python3.11": ("pyarrow<21",)}
# CLI-only dependencies that the Lambda never imports.
CLI_ONLY = frozenset({"typer", "rich"})
# Shipped by every Lambda Python runtime (and large): left out of the layer.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# Paths removed from the installed tree (relative to python/, glob patterns).
TRIM_PATTERNS = (
    "**/__pycache__",
    "**/*.pyc",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/**/*.pxd",
    "pyarrow/**/*.pyx",
    "pyarrow/**/*.h",
    "pyarrow/**/*.cc",
    # Flight is loaded only by pyarrow.flight; Substrait, Dataset and Acero are linked by
    # pyarrow.lib itself and must stay.
    "pyarrow/libarrow_flight*",
    "pyarrow/libarrow_python_flight*",
    "pyarrow/_flight*",
    "numpy/**/tests",
    "numpy/_core/include",
    "numpy/core/include",
    *(f"{name}" for name in RUNTIME_PROVIDED),
    *(f"{name}-*.dist-info" for name in RUNTIME_PROVIDED),
)

# Fixed timestamp for zip entries, so equal trees give byte-equal zips.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

Runner = Callable[..., Any]


@dataclass(frozen=True)
class Artifact:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    sha256: str  # hex of the zip file

    def describe(self) -> str:
        return (
            f"{self.path} ({self.zipped_bytes / MiB:.1f} MiB zipped, "
            f"{self.unzipped_bytes / MiB:.1f} MiB unzipped)"
        )


def platforms(runtime: str, architecture: str) -> list[str]:
    """pip ``--platform`` tags the runtime can load, newest glibc first."""
    _python, glibc = _runtime(runtime)
    arch = _arch(architecture)
    tags = [f"manylinux_2_{n}_{arch}" for n in range(glibc, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def layer_requirements() -> list[str]:
    """snowpg's runtime requirements, without the CLI-only ones and without extras."""
    out = []
    for text in importlib.metadata.requires("snowpg") or []:
        req = Requirement(text)
        if req.marker is not None or req.name.lower() in CLI_ONLY:
            continue
        out.append(str(req))
    return sorted(out)


def pip_command(
    runtime: str, architecture: str, target: Path, requirements: Sequence[str]
) -> list[str]:
    python, _glibc = _runtime(runtime)
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target)]
    for tag in platforms(runtime, architecture):
        cmd += ["--platform", tag]
    cmd += [
        "--implementation", "cp", "--python-version", python, "--only-binary=:all:",
        "--upgrade", "--no-compile", "--disable-pip-version-check", "--quiet",
    ]  # fmt: skip
    return [*cmd, *requirements, *CONSTRAINTS.get(runtime, ())]


def build_layer(
    runtime: str,
    architecture: str,
    build_dir: Path,
    requirements: Sequence[str] | None = None,
    run: Runner = subprocess.run,
) -> Artifact:
    """Install, trim and zip the dependency layer under ``build_dir``; checks Lambda's limits."""
    tree = build_dir / f"layer-{runtime}-{architecture}"
    if tree.exists():
        shutil.rmtree(tree)
    target = tree / "python"
    target.mkdir(parents=True)
    cmd = pip_command(runtime, architecture, target, requirements or layer_requirements())
    done = run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout or "").strip().splitlines()[-3:])
        raise SnowpgError(
            f"pip could not build the {runtime}/{architecture} layer: {tail[:400]}",
            hint="check the network to PyPI, or pass --layer-zip with a layer built elsewhere",
        )
    trim(target)
    artifact = zip_tree(tree, build_dir / f"layer-{runtime}-{architecture}.zip")
    check_size(artifact, what="the dependency layer")
    return artifact


def trim(root: Path, patterns: Iterable[str] = TRIM_PATTERNS) -> int:
    """Delete what the Lambda never loads; returns the bytes freed."""
    freed = 0
    for pattern in patterns:
        for path in sorted(root.glob(pattern), key=lambda p: len(p.parts), reverse=True):
            if not path.exists() and not path.is_symlink():
                continue
            freed += tree_size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return freed


def build_app_zip(out: Path, config_file: Path | None = None) -> Artifact:
    """The function's code: the snowpg package, and ``config.json`` at the root if given."""
    import snowpg

    package = Path(snowpg.__file__).parent
    files: list[tuple[Path, str]] = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((path, str(Path("snowpg") / path.relative_to(package))))
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} not found", field="config")
        files.append((config_file, "config.json"))
    return _write_zip(files, out)


def zip_tree(root: Path, out: Path) -> Artifact:
    files = [
        (p, str(p.relative_to(root)))
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    ]
    return _write_zip(files, out)


def _write_zip(files: list[tuple[Path, str]], out: Path) -> Artifact:
    out.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path, name in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data)
    return Artifact(out, out.stat().st_size, unzipped, file_sha256(out))


def check_size(artifact: Artifact, *, what: str, reserved_bytes: int = 5 * MiB) -> None:
    """Refuse an artifact that cannot fit Lambda's 250 MB unzipped limit (with the app zip)."""
    if artifact.unzipped_bytes + reserved_bytes > MAX_UNZIPPED_BYTES:
        raise SnowpgError(
            f"{what} is {artifact.unzipped_bytes / MiB:.0f} MiB unzipped; with the function code "
            f"it exceeds Lambda's {MAX_UNZIPPED_BYTES // MiB} MiB limit",
            hint="trim more packages (see snowpg.aws.layer.TRIM_PATTERNS) or deploy a container "
            "image instead",
        )


def artifact_of(path: Path) -> Artifact:
    """An existing zip (e.g. ``--layer-zip``) measured like a built one."""
    if not path.is_file():
        raise ConfigError(f"layer zip {path} not found", field="layer_zip")
    try:
        with zipfile.ZipFile(path) as zf:
            unzipped = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile:
        raise ConfigError(f"{path} is not a zip file", field="layer_zip") from None
    return Artifact(path, path.stat().st_size, unzipped, file_sha256(path))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def _runtime(runtime: str) -> tuple[str, int]:
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"unsupported runtime {runtime!r}; use one of {', '.join(RUNTIMES)}", field="runtime"
        )
    return RUNTIMES[runtime]


def _arch(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"unsupported architecture {architecture!r}; use one of {', '.join(ARCHITECTURES)}",
            field="architecture",
        )
    return ARCHITECTURES[architecture]
