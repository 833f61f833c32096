# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest bench clean browser-deps screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the project's metadata changes. `make run` needs only the runtime
# dependencies; `make test` (and lint, typecheck) the dev extras too.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/npsbot db upgrade
	$(BIN)/npsbot serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# One xdist worker more than there are cores: about a quarter of the workers' time is spent
# waiting (servers and workers in other processes, a PostgreSQL cluster stopped on purpose), and
# the extra worker runs tests meanwhile (docs/benchmarks.md, "Test suite"). Work stealing: an
# idle worker takes tests queued for a busy one, so the half-minute fault tests end no tail.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2); echo $$((n + 1)))

pytest: $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.installed
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

# The dashboard's browser test drives Debian's Chromium (it skips when Chromium is missing).
browser-deps:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# The README's screenshots from a real server on a temporary database (not part of `make test`).
screenshots: $(VENV)/.installed
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
