# The two commands a new user needs (see README.md):
#   make serve   set everything up, load the sample corpus into the embedded SQLite database, start the service
#   make test    set everything up and run the whole test suite
# Everything else here is a convenience around the `normbank` command.

VENV ?= .venv
PY := $(VENV)/bin/python
NB := $(VENV)/bin/normbank
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export NORMBANK_DATA_DIR ?= var

.PHONY: setup serve test bench clean

setup:
	./scripts/bootstrap.sh

HOST ?= 127.0.0.1
PORT ?= 8000

serve: setup
	$(NB) init --sample
	$(NB) stats
	$(NB) serve --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest tests -n auto

bench: setup
	$(PY) tests/bench/run_all.py --out var/bench/report.json

clean:
	rm -rf var .pytest_cache .hypothesis
