# The two commands of the README: `make run` starts the instrument (hoot tui), `make test`
# runs the tests.
# Each sets the machine up first (scripts/setup), so both work on a fresh Debian machine.
# `make run NEURAL=1` adds torch for the real-time layer (the CPU build where there is no
# GPU); `make test` and `make bench` always do, since the layer's tests and benchmarks need it.

VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench lint clean

NEURAL ?= 0

setup:
	@NEURAL=$(NEURAL) scripts/setup

run: setup
	$(BIN)/hoot tui --session demo

test:
	@NEURAL=1 scripts/setup
	$(BIN)/python -m pytest -q

bench:
	@NEURAL=1 scripts/setup
	$(BIN)/python benchmarks/forward_cost.py
	$(BIN)/python benchmarks/kernel_players.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/round_trip.py
	$(BIN)/python benchmarks/generate_latency.py
	$(BIN)/python benchmarks/tui.py
	$(BIN)/python benchmarks/io_floor.py
	$(BIN)/python benchmarks/keyboard_latency.py
	$(BIN)/python benchmarks/midi_out.py
	$(BIN)/python benchmarks/soundfont_voice.py
	$(BIN)/python benchmarks/launchpad_leds.py
	$(BIN)/python benchmarks/beats.py --split eval
	$(BIN)/python benchmarks/follow.py --runs 3
	$(BIN)/python benchmarks/follow.py --jitter
	$(BIN)/python benchmarks/link.py
	$(BIN)/python benchmarks/tempo_fold.py
	$(BIN)/python benchmarks/notochord_cost.py
	$(BIN)/python benchmarks/harmony_quality.py
	$(BIN)/python benchmarks/harmony_latency.py

lint: setup
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check hoot tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
