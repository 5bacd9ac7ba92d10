# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg
PYTEST_ARGS ?=

.PHONY: demo test test-browser bench lint install-test install-demo install-all browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install only when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$*]'
	touch $@

install-test: $(VENV)/.installed-test
install-demo: $(VENV)/.installed-demo
install-all: $(VENV)/.installed-all

demo: install-demo
	$(BIN)/mushin-nb demo --out runs/demo

# pytest exits 5 when it collects nothing: not a failure of the code
test: install-test
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS); s=$$?; [ $$s -eq 5 ] && exit 0; exit $$s

browser-deps: install-all
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test-browser: browser-deps
	$(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS); s=$$?; [ $$s -eq 5 ] && exit 0; exit $$s

bench: install-all
	$(BIN)/python bench/run_all.py

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache .ruff_cache
