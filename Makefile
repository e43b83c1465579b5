# Two commands on a fresh machine with Python >= 3.11 and pip: `make demo` and `make test`.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench bench-peers clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## the virtual environment with the project and its test tools

demo: $(STAMP)  ## the main job on the embedded NATS server
	$(VENV)/bin/ktrdr demo

test: $(STAMP)  ## the whole test suite (starts its own nats-server)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)  ## every benchmark, figures printed
	$(VENV)/bin/python bench/run.py

bench-peers: $(STAMP)  ## this project beside Celery on Redis and taskiq-nats (needs `apt-get install -y redis-server`)
	$(VENV)/bin/python bench/peers.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache
