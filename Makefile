# The two commands: `make run` (set up + serve the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# The port `make run` serves on: `make run PORT=8123`.
PORT   ?= 8000

.PHONY: run test setup frontend messages messages-update gettext lint typecheck browsers mosquitto nginx rabbitmq clean

run: setup frontend messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py serve --port $(PORT)

test: setup frontend messages browsers mosquitto nginx rabbitmq
	cd frontend && npm test
	$(PY) -m pytest

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

frontend: frontend/node_modules/.installed
	cd frontend && npm run build

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

# Django's translations: locale/<lang>/LC_MESSAGES/django.po compiled to .mo (not committed) by
# gettext's msgfmt. `make messages-update` extracts new strings into the .po files (docs/i18n.md).
LOCALE_IGNORE := --ignore '.venv/*' --ignore 'frontend/node_modules/*' --ignore 'frontend/static/*' --ignore 'var/*'
messages: setup gettext
	$(PY) manage.py compilemessages -v 0 $(LOCALE_IGNORE)

messages-update: setup gettext
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --no-location --no-wrap $(LOCALE_IGNORE)

gettext:
	@command -v msgfmt >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq gettext >/dev/null)) || \
		(echo "gettext (msgfmt) is needed to compile the translations: apt-get install gettext" && exit 1)

# Browser tests use Debian's Chromium (test tools cannot download browsers here).
browsers:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || \
		echo "Chromium not installed: browser tests will be skipped"
	@# A CJK font, so screenshots of the zh-Hans tests show Chinese rather than empty boxes.
	@(command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .) || (command -v apt-get >/dev/null && \
		[ "$$(id -u)" = 0 ] && apt-get install -y -qq fonts-wqy-microhei >/dev/null) || \
		echo "No Chinese font: zh-Hans screenshots will show boxes"

# MQTT tests and the bench start a private Mosquitto 2 (dynamic-security plugin) from Debian's packages.
mosquitto:
	@(test -x /usr/sbin/mosquitto && test -x /usr/bin/mosquitto_ctrl) || (command -v apt-get >/dev/null && \
		[ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq mosquitto mosquitto-clients >/dev/null)) || \
		echo "Mosquitto not installed: MQTT tests will be skipped"

# The cluster test runs deploy/local-cluster, which starts a private nginx (never the system's;
# RUNLEVEL=1 keeps the package's install from starting the system service on port 80).
nginx:
	@test -x /usr/sbin/nginx || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq nginx >/dev/null)) || \
		echo "nginx not installed: the local-cluster test will be skipped"

# Celery's alternative broker: the RabbitMQ fault test makes a vhost of its own with rabbitmqctl.
rabbitmq:
	@test -x /usr/sbin/rabbitmq-server || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq rabbitmq-server >/dev/null)) || \
		echo "RabbitMQ not installed: the RabbitMQ broker test will be skipped"

lint: setup
	$(BIN)/ruff check .
	# The layers and the outer apps' independence (.importlinter; docs/architecture.md, "Layers").
	$(BIN)/lint-imports

typecheck: setup frontend/node_modules/.installed
	$(BIN)/mypy support push billing config
	cd frontend && npm run typecheck

clean:
	rm -rf $(VENV) frontend/node_modules frontend/static/dist var locale/*/LC_MESSAGES/*.mo
