# `make serve` installs everything (venv, packages, model weights) and starts the server.
# `make test` runs exactly what CI runs (.ci/run calls it).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data

.PHONY: install models serve test check lint typecheck

$(BIN)/alphacdn: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/alphacdn

install: $(BIN)/alphacdn

models: install
	$(BIN)/alphacdn fetch-models

# the model is loaded at startup (ALPHACDN_WARM_UP=0 to load it on the first matte instead)
serve: models
	ALPHACDN_WARM_UP=$${ALPHACDN_WARM_UP:-1} $(BIN)/alphacdn serve --data-dir $(DATA)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# the suite needs the small models only (u2netp for mattes, centernet for hints, blazeface for
# faces), the real S3 and Redis servers its store tests run against and the nginx its edge
# tests put in front of the replicas (Debian radosgw, redis-server, nginx: installed with apt-get
# when missing; the tests start them on loopback), and for the React gallery's browser test
# Debian's chromium plus the example's npm packages (registry, cached in build/)
test: install lint typecheck
	scripts/services/radosgw.sh install build/services/radosgw
	scripts/services/redis.sh install build/services/redis
	scripts/services/nginx.sh install build/services/nginx
	scripts/gallery.sh build
	$(BIN)/alphacdn fetch-models --for-tests
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

check: test
