# Two commands on a fresh machine with only python3 and pip:
#   make demo   rehearse a whole release of the built-in sample project
#   make test   run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO_DIR ?= build/demo

.PHONY: demo test bench clean venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "relman needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.demo-installed

venv: $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/relman demo --dir $(DEMO_DIR) --fresh

# pytest exits 5 when it collected nothing: that is a failure, not a pass.
test: $(VENV)/.test-installed
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi; exit $$rc

bench: $(VENV)/.test-installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build .pytest_cache
