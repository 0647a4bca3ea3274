# The README's two commands: `make run` (example site) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := example_site
# PostgreSQL for the suite's database tests; the suite skips (or, in CI, fails)
# them when nothing answers here.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_POSTGRES_URL

.PHONY: run test install lint bench messages

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/flask

install: $(BIN)/flask

run: install
	$(BIN)/flask privacy init-db
	$(BIN)/flask run --debug --port $${PORT:-5000}

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench

# Re-extract the package's strings and merge them into the catalogs; compile.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _wp -k _wpn:1,2 -k _l -k lazy_gettext \
	  --no-location --sort-output -o flask_webence_privacy/translations/webence_privacy.pot .
	$(BIN)/pybabel update -D webence_privacy -i flask_webence_privacy/translations/webence_privacy.pot \
	  -d flask_webence_privacy/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -D webence_privacy -d flask_webence_privacy/translations --statistics
