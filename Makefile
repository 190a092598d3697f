# Set-up and everyday commands. Needs Python 3.11 and Node.js/npm (for the browser libraries and
# the checks of the pages' scripts: tsc, Biome, node --test);
# the browser tests need Chromium (Debian: apt-get install chromium fonts-noto-cjk).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The Socket.IO client the pages load, copied into the package (git-ignored) so that an
# installed server serves it.
VENDOR_BUNDLE := web/vendor/socket.io.esm.min.js
# The face model of the camera analysis (MediaPipe's BlazeFace, from the npm registry), copied
# into the package (git-ignored) in the same way.
FACE_MODEL := media/models/face_detection_short_range.tflite
DATA_DIR ?= ./var
BIND ?= 127.0.0.1:8080
PYTEST_ARGS ?=

.PHONY: install lock serve demo test test-fast lint bench clean

install: $(STAMP) $(NODE_STAMP) $(VENDOR_BUNDLE) $(FACE_MODEL)

# The exact versions of requirements-dev.lock, each checked against its hashes; then the
# project itself, whose dependencies are those.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The lock files again from pyproject.toml (after a dependency changed there): the versions
# already locked are kept unless pyproject.toml excludes them (LOCK_ARGS=--upgrade for all).
LOCK_VENV := $(VENV)-lock
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip-tools
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra postgres -o requirements.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-dev.lock pyproject.toml

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR_BUNDLE): $(NODE_STAMP)
	mkdir -p $(@D)
	cp node_modules/socket.io-client/dist/$(@F) $@
	if [ -f node_modules/socket.io-client/dist/$(@F).map ]; then \
		cp node_modules/socket.io-client/dist/$(@F).map $@.map; fi

$(FACE_MODEL): $(NODE_STAMP)
	mkdir -p $(@D)
	cp node_modules/@mediapipe/face_detection/$(@F) $@

serve: install
	$(VENV)/bin/roomserver serve --demo --data-dir $(DATA_DIR) --bind $(BIND)

demo: install
	$(VENV)/bin/roomserver demo --data-dir $(DATA_DIR) --bind $(BIND)

lint: install
	$(VENV)/bin/ruff check roomserver signaling media recorder web tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy roomserver signaling media recorder
	npx tsc --noEmit -p .
	npx biome lint --error-on-warnings web tests/js

# The browser tests run in their own pytest process: Playwright's sync API keeps an event loop
# running in the main thread for the whole session, which the asyncio tests cannot share.
test: lint
	node --test tests/js/*.test.mjs
	$(PY) -m pytest -m "not e2e" --durations=15 $(PYTEST_ARGS)
	$(PY) -m pytest -m e2e --durations=15 $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

bench: install
	$(PY) bench/room.py
	$(PY) bench/grid.py
	$(PY) bench/infoscreen.py
	$(PY) bench/mix.py
	$(PY) bench/record.py
	$(PY) bench/capacity.py
	$(PY) bench/broadcast.py
	$(PY) bench/replica.py
	$(PY) bench/cluster.py
	$(PY) bench/join.py
	$(PY) bench/voice.py
	$(PY) bench/analysis.py
	$(PY) bench/janus.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) node_modules web/vendor media/models .pytest_cache .ruff_cache test-artifacts
