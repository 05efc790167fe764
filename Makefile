# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Offline by default: the model ships inside a package; nothing may be fetched at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint eval clean chromium screenshot chroma bench

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	# constraints.txt pins the CPU torch wheel; an unpinned torch pulls a CUDA build.
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# The ONNX embedding model (RAG_EMBED_BACKEND), exported once per machine into
	# ~/.cache/rag/models: no question or ingest pays the export later.
	$(VENV)/bin/rag export-model
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/rag ingest
	$(PY) app.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Browser tests drive Debian's chromium (`playwright install` cannot work here). CI runs
# as root with no stdin: install it non-interactively; without root, say so and let the
# browser tests skip.
CHROMIUM := /usr/bin/chromium
APT := DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0

chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		$(APT) install chromium </dev/null || { $(APT) update </dev/null && $(APT) install chromium </dev/null; }; \
	else \
		echo "NOTE: $(CHROMIUM) is missing and installing it needs root (apt-get install -y chromium);"; \
		echo "      the browser tests (pytest -m browser) will be skipped."; \
	fi

# Two workers, one test file each at a time (module fixtures are built once): the suite
# is mostly model and subprocess start-ups, and 2 cores run it in about 7 minutes, not 9.
test: install lint chromium
	$(PY) -m pytest -q -n 2 --dist loadfile
	$(MAKE) --no-print-directory eval

# --compare adds the baselines' table (a few seconds: they reuse the question vectors).
eval: install
	mkdir -p reports
	$(VENV)/bin/rag eval --compare --report reports/eval.json --markdown reports/eval.md

screenshot: install chromium
	$(PY) docs/screenshot.py docs/chat.png

# Chroma's own server on loopback, data in .chroma/; point the app at it with
# RAG_CHROMA_URL=http://127.0.0.1:$(CHROMA_PORT) (see README, "Scaling out").
CHROMA_PORT ?= 8000
CHROMA_DATA ?= .chroma
chroma: install
	$(VENV)/bin/chroma run --path $(CHROMA_DATA) --host 127.0.0.1 --port $(CHROMA_PORT)

# Speed and memory against baselines in the same run; writes BENCHMARKS.md (not part of test).
BENCH_SIZES ?= 100 1000
bench: install
	$(PY) bench/run.py --sizes $(BENCH_SIZES) --markdown BENCHMARKS.md --json reports/bench.json

clean:
	rm -rf .rag reports .pytest_cache .ruff_cache
