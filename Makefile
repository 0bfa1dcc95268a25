# The two commands most people need: `make run` (the platform with demo data) and `make test` (the suite).
# Both create .venv and install the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/base.txt requirements/dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
QUEUES ?= default,notifications,webhooks

.PHONY: venv run test worker beat lint typecheck check migrate seed schema bench clean

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo ""
	@echo "  Admin:    http://$(HOST):$(PORT)/admin/   (demo credentials printed above)"
	@echo "  API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "  Health:   http://$(HOST):$(PORT)/api/v1/health"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

worker: venv
	$(BIN)/celery -A config worker --loglevel=INFO --queues=$(QUEUES) --concurrency=$${CELERY_CONCURRENCY:-2}

beat: venv
	$(BIN)/celery -A config beat --loglevel=INFO --schedule=$${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

check: venv
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /tmp/commerce-schema.yml

bench: venv
	$(BIN)/python loadtests/run.py $(BENCH_ARGS)

schema: venv
	$(BIN)/python manage.py spectacular --validate --file schema.yml

clean:
	rm -rf $(VENV) staticfiles .coverage htmlcov
