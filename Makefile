# Two commands on a fresh machine with Python >= 3.11 and pip: `make demo` and `make test`.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

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

clean:
	rm -rf $(VENV) .pytest_cache
