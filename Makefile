# keiretsu — two commands: `make demo` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_BROWSER := $(VENV)/.installed-browser
DEMO_DIR ?= .keiretsu/demo
DEMO_FLAGS ?=

.PHONY: demo test check format bench clean install dev

# packages are installed with uv (resolves and installs in parallel: about a third of pip's
# time here); where uv cannot be installed or fails, pip does the same install
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv || $(BIN)/python -m pip install --quiet --upgrade pip

# (a comma inside $(call …) would split its argument: the extras list is named instead)
comma := ,
INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python $(1) || $(BIN)/python -m pip install --quiet $(1)

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(call INSTALL,-e .)
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(call INSTALL,-e '.[dev]')
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(call INSTALL,-e '.[dev$(comma)bench]')
	touch $@ $(STAMP_DEV) $(STAMP_RUN)

# the obeya's browser tests (tests/web) drive Debian's chromium through Playwright (Playwright's
# own browser download is not used); CI runs as root, elsewhere apt-get needs sudo
$(STAMP_BROWSER): | $(BIN)/python
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	touch $@

install: $(STAMP_RUN)
dev: $(STAMP_DEV)

## demo: set up and run the main job: five companies' nodes, their obeya in the browser
## (headless: make demo DEMO_FLAGS=--headless; the quick two-company tables: DEMO_FLAGS=--quick)
demo: $(STAMP_RUN)
	$(BIN)/keiretsu demo --dir $(DEMO_DIR) $(DEMO_FLAGS)

## test: set up and run the whole suite (two workers: the suite is CPU-bound — three were
## slower; the peak-memory test alone after it: beside the suite its writer peaked higher)
test: $(STAMP_DEV) $(STAMP_BROWSER)
	$(BIN)/python -m pytest -n 2 --timeout 900 -q -m "not memory" --durations=25
	$(BIN)/python -m pytest --timeout 1800 -q -m memory

## check: format, lint, types and the direction of imports, the same everywhere
check: $(STAMP_DEV)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP_DEV)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## bench: the comparisons with peers (pm4py); long, not part of `make test`
bench: $(STAMP_BENCH)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/views.py
	$(BIN)/python bench/partner_view.py
	$(BIN)/python bench/sim_policy.py

clean:
	rm -rf $(VENV) .keiretsu build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
