PY ?= python3
INSTALL = PIP="$(PY) -m pip" sh deploy/install.sh

.PHONY: run test install lint bench fuzz

# Install certhook and start it on SQLite with the example settings (shadow mode, no credentials).
run:
	$(INSTALL) postgres
	certhook serve --config examples/certhook.yaml

install:
	$(INSTALL) test -e

# The whole suite, on SQLite and on PostgreSQL (a throwaway cluster the tests start themselves).
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest.py

# The webhook fuzz test at length: FUZZ_EXAMPLES per door and database (the suite runs 1,000).
FUZZ_EXAMPLES ?= 20000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/test_fuzz.py
