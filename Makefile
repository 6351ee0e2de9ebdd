# Stride: the two commands are `make run` and `make test`; everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
PORT   ?= 5000

.PHONY: run test lint system-deps sandbox-deps serve bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[serve]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[test,serve]'
	touch $@

## make run: create .venv, install, prepare the SQLite database with a demo course, start the server.
# Student code is graded only under bubblewrap, so the server needs it (installed here when root).
run: $(VENV)/.installed sandbox-deps
	$(PY) server.py --setup-demo --port $(PORT)

## make test: install what the tests need (Python extras, bubblewrap, chromium), lint, run the suite.
test: $(VENV)/.installed-test system-deps lint
	$(PY) -m pytest -q

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

# The sandbox uses bubblewrap and the browser tests use Debian's chromium; install them when
# missing and we are allowed to (root). Without them the affected tests say why they skip, or
# fail under STRIDE_REQUIRE_SERVICES=1.
sandbox-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system package: bubblewrap"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "warning: bubblewrap is missing; the server grades code only inside it:" \
	         "install it with 'sudo apt-get install bubblewrap' (see README, The sandbox)"; \
	  fi; \
	fi

system-deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "warning: missing system packages:$$missing (install them with apt-get as root)"; \
	  fi; \
	fi

## make serve: the production setup: migrate and check (no demo accounts), then gunicorn; see docs/deploy.md.
serve: $(VENV)/.installed sandbox-deps
	$(PY) server.py --migrate
	$(VENV)/bin/gunicorn -c gunicorn.conf.py 'server:create_app()'

## make bench: the reference, bank and code-grading benchmarks in turn, see docs/benchmarks.md.
bench: $(VENV)/.installed-test
	$(PY) benchmarks/reference.py
	$(PY) benchmarks/bank.py
	$(PY) benchmarks/grading.py

## make bench-web: answer submissions under gunicorn against a bare-Flask floor (throughput, then a bounded load; 20 s each per side).
bench-web: $(VENV)/.installed-test
	$(PY) benchmarks/web.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

.PHONY: worker load bench-web

## make worker: a grading worker for the Redis queue (needs DATABASE_URL and REDIS_URL), see docs/deploy.md.
worker: $(VENV)/.installed
	$(PY) -m web.code.worker

## make load: the load test (200 students, 60 s, SQLite then PostgreSQL), see docs/benchmarks.md.
load: $(VENV)/.installed-test
	$(PY) benchmarks/load.py
