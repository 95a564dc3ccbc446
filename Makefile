# Every target creates its own virtualenv (.venv) and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench bench-serve fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter rewrite samples --rules rules/example.yaml --out out --report out/report.ndjson
	$(BIN)/rewriter links samples --rules rules/example.yaml --format table
	$(BIN)/rewriter check samples --rules rules/example.yaml \
	  || echo "(check exits 1 above: the samples hold links whose clicks would break, on purpose)"
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/python scripts/serve_demo.py out rules/example.yaml

lint: $(STAMP)
	$(BIN)/ruff check rewriter tests bench scripts
	$(BIN)/ruff format --check rewriter tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py

# The service against a hello-world app on the same server and nginx `return 302`, under wrk.
# Debian's nginx and wrk are installed here when missing and possible (root, apt-get); without
# them the benchmark uses its own load client and skips nginx.
bench-serve: $(STAMP)
	@if ! command -v wrk >/dev/null || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -qq nginx wrk >/dev/null 2>&1 || echo "(apt-get could not install nginx and wrk)"; \
	  else echo "(nginx and wrk not installable here: own load client, no nginx)"; fi; \
	fi
	$(BIN)/python bench/serve.py

fuzz: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,fuzz]'
	$(BIN)/python tests/fuzz/run.py --seconds $${FUZZ_SECONDS:-120}

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
