# Podium. `make demo` and `make test` do all set-up on a fresh Debian machine (Python 3.11).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
FMNIST  := /usr/share/datasets/fashion-mnist

.PHONY: setup data demo test test-all bench board clean

setup: $(STAMP) data

# torch is pinned (torch==2.13.0) in pyproject.toml, so it is resolved in the same pip command as everything else:
# on this machine kind that picks the local CPU wheel instead of several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Fashion-MNIST from Debian's package when we are root and it is missing; otherwise the loader explains the options.
data:
	@if [ ! -d $(FMNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing dataset-fashion-mnist (Debian)"; \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null)); \
	fi

demo: setup
	$(VENV)/bin/podium demo

test: setup
	$(VENV)/bin/pytest

# Slow system tests (full-suite runs; later docker, browser).
test-all: setup
	$(VENV)/bin/pytest -m "slow or not slow"

bench: setup
	$(PY) benchmarks/step_overhead.py

# The leaderboard over the bundle `make demo` published (http://127.0.0.1:8501).
board: setup
	$(VENV)/bin/podium board

clean:
	rm -rf $(VENV) podium-results
