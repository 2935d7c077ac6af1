# The portal's two commands: `make run` starts it, `make test` runs the test suite.
# Both build .venv from requirements.txt first; nothing else needs to be installed by hand.

VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.requirements-installed
PO_FILES := $(wildcard portal/translations/*/LC_MESSAGES/*.po)

export TZ := Asia/Shanghai

# The setup commands build the app, which reads REDIS_URL but does not connect for them:
# point them at the Redis the runner will start, unless a real one is configured.
# (Not exported: the runner must still see REDIS_URL unset to start its own.)
FLASK := REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${PORTAL_REDIS_PORT:-6390}/0}" \
         $(VENV)/bin/flask --app wsgi

.PHONY: run test bench clean setup translations db system-packages

run: setup db
	exec $(PY) -m portal.runner

# The suite runs on PostgreSQL when one answers at 127.0.0.1:5432 and on SQLite, the
# embedded default; with both, the two runs go at once (tests/run_suites.sh).
test: setup system-packages
	PY=$(PY) bash tests/run_suites.sh $(PYTEST_ARGS)

bench: setup
	@if [ -f bench/run_all.sh ]; then bash bench/run_all.sh; \
	else echo "bench/run_all.sh does not exist yet"; fi

clean:
	rm -rf .pytest_cache bench/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

setup: $(STAMP) translations

$(PY):
	@py=$$(command -v python3.11 || command -v python3) || { echo "Python 3.11 is required" >&2; exit 1; }; \
	$$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "$$py is older than 3.11; install Python 3.11" >&2; exit 1; }; \
	echo "creating $(VENV) with $$py"; \
	$$py -m venv $(VENV)

# Reinstall only when requirements.txt changed (order-only on the venv: its mtime moves).
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

translations: $(STAMP)
ifneq ($(PO_FILES),)
	$(VENV)/bin/pybabel compile -d portal/translations
endif

db: $(STAMP)
	mkdir -p "$${PORTAL_INSTANCE:-instance}"
	$(FLASK) db upgrade
	$(FLASK) seed-demo

# Browser tests drive Debian's Chromium (never a browser downloaded by Playwright); PDF
# tests read fonts and pages back with poppler's pdffonts and pdftoppm.
system-packages:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	{ command -v pdffonts && command -v pdftoppm; } >/dev/null || missing="$$missing poppler-utils"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
	  echo "warning: not installed:$$missing (needs root and apt-get); browser and PDF tests cannot run" >&2; \
	fi
