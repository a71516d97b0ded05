"""What every results file records about how it was made."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGES = (
    "bright-eval", "numpy", "scipy", "pytrec-eval-terrier", "datasets", "torch", "transformers",
    "sentence-transformers", "vllm", "openai", "trl", "peft",
)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        res = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "argv": sys.argv,
        "git_commit": git_commit(),
        "versions": versions(),
    }


# `make install` copies the lock it installed from here (Makefile), so the hash describes the installed
# packages even after the repository's lock has moved on.
LOCK_RECORD = "bright-eval-lock.txt"


def lock_sha256() -> str | None:
    """sha256 of the lock file this environment was installed from; None when it was not installed from one.

    $BRIGHT_EVAL_LOCK names the lock for environments built by hand (e.g. `pip install -c
    requirements/gpu-py311.txt ...`); otherwise the copy `make install` leaves in the venv is read.
    """
    named = os.environ.get("BRIGHT_EVAL_LOCK")
    path = Path(named) if named else Path(sys.prefix) / LOCK_RECORD
    try:
        data = path.read_bytes()
    except OSError:
        if named:
            log.warning("BRIGHT_EVAL_LOCK=%s cannot be read; results record no lock hash", named)
        return None
    return hashlib.sha256(data).hexdigest()
