"""Find (or make) a Python environment that can run the fakesnow *server*.

snowpg itself runs with snowflake-connector-python 5.x, but the fakesnow server imports connector
modules that 5.x removed (``converter``, ``file_util``, ...), so it runs as a separate process
from an environment of its own, chosen in this order:

1. ``SNOWPG_FAKESNOW_PYTHON``: a Python interpreter the user names;
2. ``.venv-fakesnow`` next to the active virtualenv (``make install`` creates it);
3. the current interpreter, if ``import fakesnow.server`` works in it (a connector < 5 there);
4. a private virtualenv under ``~/.cache/snowpg/fakesnow-<version>`` created on first use with
   ``pip install 'fakesnow[server]==0.12.1' 'snowflake-connector-python<5'`` (needs the network
   once), so a ``pip install 'snowpg[demo]'`` user still gets a working ``snowpg demo``.

Each candidate is probed in a subprocess with ``PYTHONPATH`` removed, which is also how the server
is started, so the server never sees the caller's path overlays.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import venv
from pathlib import Path

from snowpg.errors import ConfigError

log = logging.getLogger("snowpg.demo.fakesnow_env")

FAKESNOW_REQUIREMENTS = ("fakesnow[server]==0.12.1", "snowflake-connector-python>=4.8,<5")
PYTHON_ENV = "SNOWPG_FAKESNOW_PYTHON"
_PROBE_TIMEOUT_S = 120
_INSTALL_TIMEOUT_S = 900


def server_env() -> dict[str, str]:
    """The environment the fakesnow server runs with: the caller's, minus ``PYTHONPATH``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _runs_fakesnow_server(python: Path) -> bool:
    if not python.exists():
        return False
    try:
        done = subprocess.run(
            [str(python), "-c", "import fakesnow.server"],
            env=server_env(),
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "snowpg" / "fakesnow-0.12.1"


def _create_private_env(root: Path) -> Path:
    log.warning("creating a private environment for the fakesnow server in %s (once)", root)
    venv.create(root, with_pip=True, clear=True)
    python = _venv_python(root)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *FAKESNOW_REQUIREMENTS],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["pip failed"]
        raise ConfigError(
            f"could not install the fakesnow server into {root}: {tail[0]}",
            hint=f"set {PYTHON_ENV} to a Python that has {' '.join(FAKESNOW_REQUIREMENTS)}",
        )
    return python


@functools.cache
def fakesnow_python() -> Path:
    """The interpreter to run ``python -m fakesnow -s`` with (see the module docstring)."""
    named = os.environ.get(PYTHON_ENV)
    if named:
        if not _runs_fakesnow_server(Path(named)):
            raise ConfigError(
                f"{PYTHON_ENV}={named} cannot import fakesnow.server",
                hint=f"install {' '.join(FAKESNOW_REQUIREMENTS)} into that environment",
            )
        return Path(named)
    sibling = _venv_python(Path(sys.prefix).parent / ".venv-fakesnow")
    for candidate in (sibling, Path(sys.executable)):
        if _runs_fakesnow_server(candidate):
            return candidate
    private = _cache_root()
    if _runs_fakesnow_server(_venv_python(private)):
        return _venv_python(private)
    return _create_private_env(private)
