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
    "sentence-transformers", "tokenizers", "vllm", "openai", "trl", "peft", "onnxruntime", "openvino",
)
# The installed packages whose version can move a number (scores, embeddings, generations).
NUMERIC = ("torch", "transformers", "sentence-transformers", "tokenizers", "vllm", "pytrec-eval-terrier", "numpy")


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
        "lock_sha256": lock_sha256(),  # the lock the environment was installed from (docs/environments.md)
    }


def numeric_environment(env: dict) -> dict[str, str]:
    """The part of a record's environment that can change its numbers: NUMERIC versions and the lock hash."""
    versions = env.get("versions") or {}
    out = {k: str(versions[k]) for k in NUMERIC if k in versions}
    if env.get("lock_sha256"):
        out["lock"] = str(env["lock_sha256"])[:12]
    return out


def mixed_environments(records) -> str | None:
    """None when every record's numbers came from one environment; else which packages differ, e.g.
    'torch 2.13.0 (4 files) / 2.14.0 (2 files)', for leaderboards and reports to say."""
    seen: dict[str, dict[str, int]] = {}
    for rec in records:
        for name, version in numeric_environment(rec.environment or {}).items():
            seen.setdefault(name, {}).setdefault(version, 0)
            seen[name][version] += 1
    differ = {k: v for k, v in seen.items() if len(v) > 1}
    if not differ:
        return None
    return "; ".join(f"{k} " + " / ".join(f"{ver} ({n} files)" for ver, n in sorted(v.items())) for k, v in sorted(differ.items()))

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
