# Every target creates its own virtualenv (.venv) and installs what it needs.
# `make demo PYTHON=/usr/bin/python3 VENV=.venv-system` runs it with another Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The machine's own Python (Debian 12's is 3.11.2, older than the fix of a `re` bug the scanner
# works around): `make test` runs the tests under it too, in its own virtualenv, when it is
# another version than $(PYTHON) and one that pyproject.toml admits.
SYSTEM_PYTHON ?= /usr/bin/python3
SYSTEM_VENV ?= .venv-system
PYVERSION := import sys; print(sys.implementation.name, sys.version.split()[0])

.PHONY: demo test lint typecheck unit unit-system bench bench-report bench-serve fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter rewrite samples --rules rules/example.yaml --out out --report out/report.ndjson
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter rewrite samples/order-shipped.eml --rules rules/example.yaml --out out
	$(BIN)/rewriter links samples samples/order-shipped.eml --rules rules/example.yaml --format table
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/rewriter diff samples out --rules rules/example.yaml \
	  --exclude report.html
	$(BIN)/rewriter links samples --rules rules/example.yaml --format html > out/report.html
	@echo "wrote out/report.html (open it in a browser)"
	$(BIN)/rewriter check samples samples/order-shipped.eml --rules rules/example.yaml \
	  || echo "(check exits 1 above: the samples hold links whose clicks would break, on purpose)"
	REWRITER_KEYS="$$(cat rules/demo.keys.txt)" $(BIN)/python scripts/serve_demo.py out rules/example.yaml

lint: $(STAMP)
	$(BIN)/ruff check rewriter tests bench scripts
	$(BIN)/ruff format --check rewriter tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

unit-system:
	@if ! [ -x "$(SYSTEM_PYTHON)" ]; then \
	  echo "unit-system: no $(SYSTEM_PYTHON): skipped"; \
	elif ! "$(SYSTEM_PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	  echo "unit-system: $(SYSTEM_PYTHON) is older than 3.11: skipped"; \
	elif [ "$$("$(SYSTEM_PYTHON)" -c '$(PYVERSION)')" = "$$($(PYTHON) -c '$(PYVERSION)')" ]; then \
	  echo "unit-system: $(SYSTEM_PYTHON) is the same version as $(PYTHON): skipped"; \
	else \
	  echo "unit-system: the tests again under $(SYSTEM_PYTHON) ($$("$(SYSTEM_PYTHON)" -c '$(PYVERSION)'))"; \
	  $(MAKE) --no-print-directory PYTHON="$(SYSTEM_PYTHON)" VENV="$(SYSTEM_VENV)" unit; \
	fi

test: lint typecheck unit unit-system

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py

bench-report: $(STAMP)
	$(BIN)/python bench/report_page.py

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
	rm -rf $(VENV) $(SYSTEM_VENV) out .mypy_cache .pytest_cache .ruff_cache
