# embedlab: `make` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 5000
# pytest-xdist workers for `make test`: one per core of the 2-core CI machine
TEST_WORKERS ?= 2
# pyproject extras: dev tools and the CPU FAISS build; on a CUDA machine EXTRAS=dev,gpu (see pyproject.toml).
# The venv remembers its extras, so a later plain `make test` keeps a GPU install as it is.
EXTRAS_FILE := $(VENV)/.extras
DEFAULT_EXTRAS := dev,cpu
EXTRAS ?= $(or $(shell cat $(EXTRAS_FILE) 2>/dev/null),$(DEFAULT_EXTRAS))
# Nothing is fetched from a model or dataset hub at run time.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.DEFAULT_GOAL := help
.PHONY: help install train test test-scaleout lint format mlflow-ui mlflow-server optuna-dashboard ui-check bench clean FORCE

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sed "s|\$$(PORT)|$(PORT)|g" | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(EXTRAS_FILE)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0   # first: the CPU wheel on disk, never a CUDA download
	@# faiss-cpu and faiss-gpu install the same files: remove the build not asked for before installing the other
	$(PY) -m pip uninstall -q -y $(if $(findstring gpu,$(EXTRAS)),faiss-cpu,faiss-gpu) 2>/dev/null
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

$(EXTRAS_FILE): FORCE  # rewritten only when EXTRAS changes, which reinstalls
	@mkdir -p $(VENV) && [ "$$(cat $@ 2>/dev/null)" = "$(EXTRAS)" ] || echo "$(EXTRAS)" > $@

FORCE:

install: $(STAMP) ## Create .venv (torch==2.13.0 first) and install embedlab with its extras (EXTRAS=dev,cpu)

train: $(STAMP) ## Train the default experiment (MiniLM on the bundled physics set), offline
	$(PY) -m train
	@echo "Runs: outputs/<date>/<time>/   Tracking: make mlflow-ui, then open http://127.0.0.1:$(PORT)"

test: $(STAMP) ## Run the whole test suite (the scale-out tests: make test-scaleout)
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not scaleout"

test-scaleout: $(STAMP) ## Sweeps through Ray, submitit and 4 parallel workers on PostgreSQL and SQLite (minutes)
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq postgresql)
	$(PY) -m pytest -q -m scaleout tests/sweeps/scaleout

lint: $(STAMP) ## ruff check + format check
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: $(STAMP) ## ruff fix + format
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

mlflow-ui: $(STAMP) ## MLflow UI on 127.0.0.1:$(PORT) over the project's store (mlflow.db)
	@$(PY) -c "from embedlab.tracking.store import print_ui_addresses; print_ui_addresses('sqlite:///$(CURDIR)/mlflow.db', $(PORT))" 2>/dev/null || true
	$(VENV)/bin/mlflow ui --host 127.0.0.1 --port $(PORT) --backend-store-uri sqlite:///$(CURDIR)/mlflow.db

mlflow-server: $(STAMP) ## MLflow server on 127.0.0.1:$(PORT) over mlflow.db: one writer for parallel sweeps
	$(VENV)/bin/mlflow server --host 127.0.0.1 --port $(PORT) --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --artifacts-destination $(CURDIR)/mlartifacts

optuna-dashboard: $(STAMP) ## Optuna's dashboard on 127.0.0.1:8080 over the study storage (STORAGE=sqlite:///...)
	@$(VENV)/bin/python -c "import optuna_dashboard" 2>/dev/null || $(PY) -m pip install -q -e ".[ui]"
	$(VENV)/bin/optuna-dashboard --host 127.0.0.1 --port 8080 $(or $(STORAGE),sqlite:///$(CURDIR)/optuna.db)

ui-check: $(STAMP) ## Make 4 kinds of tiny runs, open the MLflow UI in headless Chromium, save screenshots (OUT=...)
	@$(VENV)/bin/python -c "import selenium" 2>/dev/null || $(PY) -m pip install -q -e ".[ui]"
	@command -v chromedriver >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	$(PY) tools/ui_check.py $(if $(OUT),--out $(OUT)) $(ARGS)

bench: $(STAMP) ## Benchmarks -> bench/results/*.json + table; DATA=<BEIR dir> for mining/eval (ARGS=--repeats 5 ...)
	$(PY) -m bench $(if $(DATA),--data $(DATA)) $(ARGS)

clean: ## Remove outputs/, multirun/ and caches (keeps mlflow.db and .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache bench/results optuna.db.locks
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
