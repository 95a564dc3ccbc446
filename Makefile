# Every target creates its own virtualenv (.venv) and installs what it needs.
# `make demo PYTHON=/usr/bin/python3 VENV=.venv-system` runs it with another Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The machine's own Python (Debian 12's is 3.11.2, older than the fix of a `re` bug the scanner
# works around): `make test` runs the tests under it too, in its own virtualenv, when it is
# another version than $(PYTHON) and one that pyproject.toml admits.
#
# The scanner: `pip install -e` builds the compiled one (rewriter/document/_cscan.c, an optional
# extension: without gcc or the Python headers the install falls back to the pure-Python one).
# `make test` runs the whole suite twice, once with each scanner: `unit` with the compiled one
# (the default where it is built) and `unit-system` under the machine's Python with
# REWRITER_SCANNER=python, the reference (the extension is built there too: the differential tests
# compare it with that Python's pattern). Where that second Python is skipped, `unit-system` runs
# the suite again in $(VENV) with REWRITER_SCANNER=python instead.
SYSTEM_PYTHON ?= /usr/bin/python3
SYSTEM_VENV ?= .venv-system
PYVERSION := import sys; print(sys.implementation.name, sys.version.split()[0])

.PHONY: demo test lint typecheck unit unit-python unit-system bench bench-report bench-serve fuzz clean

$(STAMP): pyproject.toml setup.py rewriter/document/_cscan.c rewriter/tokens/_cdecode.c
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
	$(BIN)/ruff check rewriter tests bench scripts setup.py
	$(BIN)/ruff format --check rewriter tests bench scripts setup.py

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

unit-python: $(STAMP)
	REWRITER_SCANNER=python $(BIN)/pytest

unit-system: $(STAMP)
	@if ! [ -x "$(SYSTEM_PYTHON)" ]; then \
	  echo "unit-system: no $(SYSTEM_PYTHON): the pure-Python scanner under $(PYTHON)"; \
	  $(MAKE) --no-print-directory unit-python; \
	elif ! "$(SYSTEM_PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	  echo "unit-system: $(SYSTEM_PYTHON) is older than 3.11: the pure-Python scanner under $(PYTHON)"; \
	  $(MAKE) --no-print-directory unit-python; \
	elif [ "$$("$(SYSTEM_PYTHON)" -c '$(PYVERSION)')" = "$$($(PYTHON) -c '$(PYVERSION)')" ]; then \
	  echo "unit-system: $(SYSTEM_PYTHON) is $(PYTHON)'s version: the pure-Python scanner under it"; \
	  $(MAKE) --no-print-directory unit-python; \
	else \
	  echo "unit-system: the tests again under $(SYSTEM_PYTHON) ($$("$(SYSTEM_PYTHON)" -c '$(PYVERSION)')), pure-Python scanner"; \
	  $(MAKE) --no-print-directory PYTHON="$(SYSTEM_PYTHON)" VENV="$(SYSTEM_VENV)" unit-python; \
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

# The fuzz targets run the compiled scanner and token decoder too (`compiled` and `tokens`: against
# their pure-Python twins), built for the run with AddressSanitizer: gcc's libasan is preloaded
# (it must come first), Python allocates with malloc so that ASan sees each bytes object's bounds
# (pymalloc's arenas hide them), its own allocations are not leaks to report, and the extensions
# are rebuilt without ASan afterwards, whatever the outcome. FUZZ_TARGETS picks targets (default: all five, FUZZ_SECONDS
# split evenly).
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer -g -O1
fuzz: $(STAMP)
	REWRITER_CSCAN_CFLAGS="$(ASAN_FLAGS)" REWRITER_CSCAN_LDFLAGS="-fsanitize=address" \
	  $(BIN)/pip install --quiet -e '.[dev,fuzz]'
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \
	  $(BIN)/python tests/fuzz/run.py --seconds $${FUZZ_SECONDS:-120} \
	  $${FUZZ_TARGETS:+--targets $$FUZZ_TARGETS}; \
	  status=$$?; $(BIN)/pip install --quiet -e '.[dev]'; exit $$status

clean:
	rm -rf $(VENV) $(SYSTEM_VENV) out .mypy_cache .pytest_cache .ruff_cache
