# The README's two commands: `make run` (example site) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := example_site
# PostgreSQL for the suite's database tests; they fail, naming it, when nothing
# answers here.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_POSTGRES_URL
# MariaDB (or MySQL 8) likewise; the suite creates and drops its own database there.
TEST_MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306/test
export TEST_MYSQL_URL

.PHONY: run install-run install-test install test test-fast test-floors check lint bench load faults messages screenshots

# Two install stamps: `make run` installs only what the example site needs (the
# package and its dependencies), so a newcomer's first page comes quickly; the
# test toolchain (pytest, Playwright, Hypothesis, mypy, ruff, psycopg, ...) comes
# with the first `make test`.
$(VENV)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install-run: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test
install: install-test

run: install-run
	FLASK_DEBUG=1 $(BIN)/flask init-db
	$(BIN)/flask run --debug --port $${PORT:-5000}

# ruff, then mypy (configured in pyproject.toml's [tool.mypy]).
check: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same without the Chromium flows and the Hypothesis fuzzing.
test-fast: check
	$(BIN)/python -m pytest -m "not browser and not fuzz" $(PYTEST_ARGS)

# The fast set again in .venv-floors, on exactly the oldest release of each
# dependency that pyproject.toml allows (scripts/floors.py).
test-floors: install-test
	$(BIN)/python scripts/floors.py $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

# A PNG of every page state (tests/pagestates.py, the list the axe walk scans) in
# Dutch and English at 1280 and 390 px, in screenshots/ (not committed).
screenshots: install-test
	$(BIN)/python -m scripts.screenshots $(SCREENSHOT_ARGS)

# Benchmarks, never part of the tests: ratios against the bare stack, measured in
# one process; the JSON lines come last. `make load` runs the bounded load test.
bench: install-test
	$(BIN)/python -m bench $(BENCH_ARGS)

load: install-test
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The example site under gunicorn through Redis stopped, the database cut and a
# worker killed: exits non-zero if an accepted post or its mail is lost.
faults: install-test
	$(BIN)/python -m bench.faults $(FAULTS_ARGS)

# Re-extract the package's strings and merge them into the catalogs; compile.
# (pybabel comes with Flask-Babel, a dependency of the package.)
messages: install-run
	$(BIN)/pybabel extract -F babel.cfg -k _wp -k _wpn:1,2 -k _l -k lazy_gettext \
	  --no-location --sort-output -o flask_webence_privacy/translations/webence_privacy.pot .
	$(BIN)/pybabel update -D webence_privacy -i flask_webence_privacy/translations/webence_privacy.pot \
	  -d flask_webence_privacy/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -D webence_privacy -d flask_webence_privacy/translations --statistics
