# costeer: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
NANOVER_VENV := .venv-nanover
PY313_VENV := .venv-py313
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON313 ?= $(PYENV_ROOT)/versions/3.13.0/bin/python3

.PHONY: setup setup-nanover setup-py313 setup-mosquitto setup-web setup-browser demo test test-fast bench learning checkpoint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch first, pinned to the CPU build on disk: a bare "torch" would download a multi-GB CUDA build
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[test,agent,events,grpc]'
	touch $@

# NanoVer's own server, client and recording reader (Python >= 3.13), driven from tests as a subprocess.
$(NANOVER_VENV)/.installed:
	$(PYTHON313) -m venv $(NANOVER_VENV)
	$(NANOVER_VENV)/bin/pip install -q --upgrade pip
	$(NANOVER_VENV)/bin/pip install -q nanover-server==0.1.3018 openmm==8.6.1
	touch $@

# costeer itself on Python 3.13, as labs run it beside NanoVer: the suite serves from it once (tests/cli/test_python313.py).
$(PY313_VENV)/.installed: pyproject.toml
	$(PYTHON313) -m venv $(PY313_VENV)
	$(PY313_VENV)/bin/pip install -q --upgrade pip
	$(PY313_VENV)/bin/pip install -q -e .
	touch $@

setup: $(VENV)/.installed setup-web
setup-nanover: $(NANOVER_VENV)/.installed
setup-py313: $(PY313_VENV)/.installed

# The MQTT broker the events tests start on a free loopback port (tests/events): Debian's mosquitto.
setup-mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || command -v /usr/sbin/mosquitto >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto)

# The web client (web/ -> costeer/server/web/static, served by costeer serve): npm from the lockfile, no CDN at run time.
WEB_STATIC := costeer/server/web/static/index.html
$(WEB_STATIC): web/package-lock.json web/build.mjs web/index.html web/style.css $(wildcard web/src/*.js)
	cd web && npm ci --no-audit --no-fund && npm run build

setup-web: $(WEB_STATIC)

# The browser the web client's tests drive (tests/web, Playwright for Python): Debian's chromium, never a downloaded build.
setup-browser:
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: setup
	$(VENV)/bin/costeer demo

test: setup setup-nanover setup-py313 setup-mosquitto setup-browser
	COSTEER_REQUIRE_PY313=1 $(VENV)/bin/pytest -m '' -q

test-fast: setup setup-mosquitto
	$(VENV)/bin/pytest -q

bench: setup setup-nanover
	$(VENV)/bin/python bench/run.py

# The README's learning tables (policies, baselines, leave-one-out, DAgger, the helix task): about an hour on 2 cores.
learning: setup
	$(VENV)/bin/python bench/learning.py

# The small nanotube policy that ships (costeer/agent/checkpoints/nanotube.pt): 200 synthetic episodes
# and the human sessions in ../shared/data, a cnn with 8 frames of history (bench/learning.py's data and train steps).
checkpoint: setup
	$(VENV)/bin/python bench/learning.py --steps data train --policies cnn
	cp bench/results/learning/cnn.pt costeer/agent/checkpoints/nanotube.pt

clean:
	rm -rf $(VENV) $(NANOVER_VENV) $(PY313_VENV) *.egg-info web/node_modules costeer/server/web/static
