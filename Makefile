PY ?= python3
INSTALL = PIP="$(PY) -m pip" sh deploy/install.sh

.PHONY: run test install lint bench fuzz translations

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

# The shoppers' words (the customer's page, the badges): extracted from the code, merged into each
# language's catalog (plugin/translations/<lang>/LC_MESSAGES/messages.po), which a translator
# fills in, then compiled to the messages.mo certhook reads. Commit both.
translations:
	pybabel extract -F babel.cfg --no-location --omit-header -o plugin/translations/messages.pot .
	pybabel update -i plugin/translations/messages.pot -d plugin/translations --no-fuzzy-matching
	pybabel compile -d plugin/translations
