# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Offline by default: the model ships inside a package; nothing may be fetched at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint eval clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	# constraints.txt pins the CPU torch wheel; an unpinned torch pulls a CUDA build.
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/rag ingest
	$(PY) app.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install lint
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory eval

# --compare adds the baselines' table (a few seconds: they reuse the question vectors).
eval: install
	mkdir -p reports
	$(VENV)/bin/rag eval --compare --report reports/eval.json --markdown reports/eval.md

clean:
	rm -rf .rag reports .pytest_cache .ruff_cache
