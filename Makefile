# Two commands do all the set-up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing newsalert and its dependencies into $(VENV): about a minute the first time."
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsalert run

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot tests

clean:
	rm -rf $(VENV) build *.egg-info
