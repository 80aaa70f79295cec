# s3kit: two commands do everything on a fresh machine.
#   make demo   set up, start a local S3 server, run the walkthrough, stop the server
#   make test   set up, run the whole suite (unit + integration on Ceph RGW and moto)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install ceph test demo bench bench-quick lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# Ceph RGW from Debian's packages when root with apt (exit 3 = cannot install here:
# its tests then skip, except under CI=true where they fail).
ceph:
	@bash scripts/ceph-rgw.sh install || [ $$? = 3 ]

test: install ceph
	$(BIN)/python -m pytest -q

# ruff, mypy --strict (the library and the examples), and the import-layering contracts
lint: install
	$(BIN)/python -m ruff check src tests examples bench scripts
	$(BIN)/python -m mypy src/s3kit examples
	$(BIN)/lint-imports

demo: install ceph
	$(BIN)/python examples/demo.py

bench: install ceph
	$(BIN)/python bench/run.py

bench-quick: install ceph
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache bench/results
