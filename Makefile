# Two commands matter: `make run` and `make test`. Everything else is for developers.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SERVICES = eval "$$($(BIN)/python deploy/embedded.py start)"

.PHONY: run test check bench venv services stop messages e2e browser demo fmt

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

services: venv
	@$(BIN)/python deploy/embedded.py start

stop:
	$(BIN)/python deploy/embedded.py stop

# Serve the site with a Celery worker and beat on embedded PostgreSQL + Redis (or DATABASE_URL/REDIS_URL).
run: venv
	@$(SERVICES); export DJANGO_SETTINGS_MODULE=config.settings.dev; \
	  $(BIN)/python manage.py compilemessages -v 0 --ignore=.venv && \
	  $(BIN)/python manage.py platform_setup && \
	  $(BIN)/python manage.py demo_seed && \
	  exec $(BIN)/python deploy/devrun.py

# Chromium for the browser tests comes from Debian's package (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

test: venv browser
	@$(SERVICES); export DJANGO_SETTINGS_MODULE=config.settings.test; \
	  $(BIN)/python manage.py compilemessages -v 0 --ignore=.venv && \
	  $(BIN)/pytest $(PYTEST_ARGS)

e2e: venv browser
	@$(SERVICES); $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

check: venv
	@$(SERVICES); export DJANGO_SETTINGS_MODULE=config.settings.test; \
	  $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy . && \
	  $(BIN)/python manage.py check && $(BIN)/python manage.py makemigrations --check --dry-run

fmt: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: venv
	@$(SERVICES); export DJANGO_SETTINGS_MODULE=config.settings.dev; $(BIN)/python -m bench

messages: venv
	cd crm && ../$(BIN)/django-admin makemessages -l zh_Hans -l en --ignore='*/tests/*' && cd .. && \
	  $(BIN)/django-admin makemessages -l zh_Hans -l en --ignore='.venv/*' --ignore='crm/*' --ignore='tests/*' && \
	  $(BIN)/python manage.py compilemessages --ignore=.venv
