# Two commands matter: `make run` and `make test`. Everything else is for developers.
# A fresh machine needs Python 3.11+ and make; PostgreSQL and Redis come from wheels (deploy/embedded.py),
# and the few Debian packages (gettext, chromium, a CJK font for screenshots) are installed when missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Runs a command with the embedded PostgreSQL + Redis (or DATABASE_URL/REDIS_URL), stopping afterwards
# only the servers it had to start.
WITH_SERVICES = $(BIN)/python deploy/embedded.py run --
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq

.PHONY: run test check bench venv services stop messages compilemessages e2e browser pgbouncer fmt

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Start the embedded servers in the background (they keep running until `make stop`).
services: venv
	@$(BIN)/python deploy/embedded.py start

stop:
	$(BIN)/python deploy/embedded.py stop

# msgfmt (gettext) compiles the translations; without it the UI falls back to the English msgids.
compilemessages: venv
	@command -v msgfmt >/dev/null 2>&1 || { $(APT_INSTALL) gettext >/dev/null; } || \
	  echo "warning: gettext (msgfmt) is missing; translations are not compiled"
	@if command -v msgfmt >/dev/null 2>&1 && find . -path ./.venv -prune -o -name '*.po' -print | grep -q .; then \
	  DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py compilemessages -v 0 --ignore=.venv; fi

# Serve the site with a Celery worker and beat on embedded PostgreSQL + Redis (or DATABASE_URL/REDIS_URL):
# migrations, template schema and spare pool, demo tenants, then web + worker + beat. Ctrl-C stops all.
# Ports: CRM_SITE_PORT (8000), CRM_PG_PORT (54329), CRM_REDIS_PORT (63799); data: CRM_DATA_DIR (.data).
run: venv compilemessages
	@exec $(BIN)/python deploy/devrun.py

# Chromium for the browser tests comes from Debian's package (Playwright cannot download browsers here);
# a CJK font so that screenshots of Chinese pages show characters, not boxes.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (Debian package)"; $(APT_INSTALL) chromium >/dev/null; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { $(APT_INSTALL) fonts-wqy-microhei >/dev/null; } || \
	  echo "warning: no CJK font; Chinese text in screenshots shows as boxes"

# PgBouncer (Debian's package) for tests/test_pgbouncer.py: the cross-tenant walk through a real pooler.
# Only the binary is used (the test starts its own on a free port); the package's service is not started.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer || \
	  { echo "installing pgbouncer (Debian package)"; $(APT_INSTALL) pgbouncer >/dev/null; } || \
	  echo "warning: pgbouncer could not be installed; tests/test_pgbouncer.py is skipped"

# The whole suite, browser tests included (pytest exits non-zero when a test fails or nothing was collected),
# on TEST_WORKERS pytest-xdist workers (2: the machine's cores); tests/parallel.py keeps them apart.
TEST_WORKERS ?= 2
test: venv browser pgbouncer compilemessages
	@DJANGO_SETTINGS_MODULE=config.settings.test $(WITH_SERVICES) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

e2e: venv browser compilemessages
	@DJANGO_SETTINGS_MODULE=config.settings.test $(WITH_SERVICES) $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

check: venv
	@DJANGO_SETTINGS_MODULE=config.settings.test $(WITH_SERVICES) sh -c '\
	  $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy . && \
	  $(BIN)/python manage.py check && $(BIN)/python manage.py makemigrations --check --dry-run'

fmt: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: venv
	@DJANGO_SETTINGS_MODULE=config.settings.dev $(WITH_SERVICES) $(BIN)/python -m bench

# One catalogue for the whole project (locale/<lang>/LC_MESSAGES/django.po); English msgids, zh-Hans first.
messages: venv
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemessages -l zh_Hans -l en \
	  --ignore='.venv/*' --ignore='tests/*' --ignore='*/tests/*' --ignore='staticfiles/*' --ignore='bench/*' \
	  --ignore='deploy/*' --no-obsolete && \
	  DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py compilemessages --ignore=.venv
