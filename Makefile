# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Everything runs in .venv: outside make, `. .venv/bin/activate` first (or call .venv/bin/python).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_GET ?= apt-get

.PHONY: run test bench lint typecheck install deps train evaluate sample clean janus

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned, so nothing pulls a CUDA build of several GB.
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,ndi,webrtc]"
	touch $(STAMP)

install: $(STAMP)

# The Debian programs the tests talk to: Pure Data, liblo's OSC tools, FluidSynth with a
# General MIDI font, Chromium for the web client, Janus (with janus.js and webrtc-adapter) for
# the audience fan-out, fortunes (verse for the poetry model). Installs only what is missing (apt-get,
# as root or through sudo); without them those tests are skipped, each saying why.
deps:
	@need=""; \
	command -v pd >/dev/null || need="$$need puredata-core"; \
	command -v oscsend >/dev/null || need="$$need liblo-tools"; \
	command -v fluidsynth >/dev/null || need="$$need fluidsynth"; \
	[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need="$$need fluid-soundfont-gm"; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	command -v janus >/dev/null || need="$$need janus"; \
	[ -e /usr/share/javascript/janus-gateway/janus.js ] || need="$$need libjs-janus-gateway"; \
	[ -e /usr/share/javascript/webrtc-adapter ] || need="$$need libjs-webrtc-adapter"; \
	[ -e /usr/share/hershey-fonts/futural.jhf ] || need="$$need hershey-fonts-data"; \
	[ -e /usr/lib/python3/dist-packages/kanjidraw/data.json ] || need="$$need python3-kanjidraw"; \
	[ -e /usr/share/games/fortunes/songs-poems ] || need="$$need fortunes"; \
	if [ -z "$$need" ]; then echo "deps: all there (pd, oscsend, fluidsynth and FluidR3_GM.sf2, chromium, janus, hershey-fonts-data, python3-kanjidraw, fortunes)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; echo "deps: not root: using sudo"; \
	else echo "deps: missing:$$need; installing them needs root or sudo (as root: $(APT_GET) update && $(APT_GET) install$$need)" >&2; exit 1; fi; \
	echo "deps: installing$$need"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $$need

run: $(STAMP)
	$(PY) server.py $(ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The model commands with the virtual environment's Python, e.g.
#   make train ARGS="gan --data ~/my-images --name mine --max-minutes 60"
#   make evaluate ARGS=corpus      make sample ARGS="shakespeare --out s.txt"
train: $(STAMP)
	$(PY) -m models.train $(ARGS)

evaluate: $(STAMP)
	$(PY) -m models.evaluate $(ARGS)

sample: $(STAMP)
	$(PY) -m models.sample $(ARGS)

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

# Janus with deploy/janus's config, for the janus output (docs/outputs.md); Ctrl-C stops it.
janus:
	deploy/janus/run.sh $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build *.egg-info
