# Every target creates its own virtualenv (.venv) and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter rewrite samples --rules rules/example.yaml --out out --report out/report.ndjson
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter rewrite samples/order-shipped.eml --rules rules/example.yaml --out out
	$(BIN)/rewriter links samples samples/order-shipped.eml --rules rules/example.yaml --format table
	$(BIN)/rewriter check samples samples/order-shipped.eml --rules rules/example.yaml \
	  || echo "(check exits 1 above: the samples hold links whose clicks would break, on purpose)"

lint: $(STAMP)
	$(BIN)/ruff check rewriter tests bench
	$(BIN)/ruff format --check rewriter tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py

fuzz: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,fuzz]'
	$(BIN)/python tests/fuzz/run.py --seconds $${FUZZ_SECONDS:-120}

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
