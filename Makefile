# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-postgres test-browser lint format migrate demo-user bench clean

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo-user: migrate
	$(BIN)/python manage.py create_demo_user --site http://$(HOST):$(PORT)

run: demo-user
	@echo "Serving Study Planner on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/uvicorn studyplanner.asgi:application --host $(HOST) --port $(PORT) \
		--timeout-graceful-shutdown 5 --lifespan on

# The unit and integration suite (SQLite unless DATABASE_URL says otherwise).
test: install
	$(BIN)/python -m pytest --ignore=tests/e2e $(PYTEST_ARGS)

# The browser tests: real Chromium driven by Playwright against a live uvicorn.
test-browser: install
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache test-artifacts
