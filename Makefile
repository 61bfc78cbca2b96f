# Two set-up commands on a fresh machine: `make demo` and `make test` (each installs first).
SHELL := /bin/bash
LIVEKIT_VERSION ?= v1.13.5
LIVEKIT_BIN ?= $(HOME)/.cache/callflow/bin/livekit-server-$(LIVEKIT_VERSION)
VERSITYGW_VERSION ?= v1.8.0
S3_SERVER_BIN ?= $(HOME)/.cache/callflow/bin/versitygw-$(VERSITYGW_VERSION)
# promtool checks and unit-tests the alert rules (deploy/monitoring/); Prometheus' Go module.
PROMTOOL_VERSION ?= v0.316.0
PROMTOOL_BIN ?= $(HOME)/.cache/callflow/bin/promtool-$(PROMTOOL_VERSION)
UV ?= $(shell command -v uv || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=

.PHONY: install system-packages python-packages livekit-server s3-server promtool demo test lint format bench-agent bench-peak dev clean

install: system-packages python-packages livekit-server s3-server promtool

# espeak-ng speaks the offline TTS and the phone simulator's lines; sox converts audio;
# chromium (headless) lets the tests look at the Temporal UI and the report's page.
system-packages:
	@if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox chromium >/dev/null; \
	  else echo "install espeak-ng, sox and chromium (apt-get install espeak-ng sox chromium)"; exit 1; fi; fi

python-packages:
	@command -v uv >/dev/null || [ -x "$(UV)" ] || python3 -m pip install --quiet uv
	@$$(command -v uv || echo $(UV)) sync --frozen --extra local --quiet

# livekit-server is a Go program; built once from the Go module proxy and cached.
livekit-server: $(LIVEKIT_BIN)
$(LIVEKIT_BIN):
	@mkdir -p $(dir $(LIVEKIT_BIN))
	GOBIN=$(dir $(LIVEKIT_BIN))gobin go install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_VERSION)
	mv $(dir $(LIVEKIT_BIN))gobin/server $(LIVEKIT_BIN)

# The local stack's S3-compatible server (call recordings): versitygw, also a Go program.
s3-server: $(S3_SERVER_BIN)
$(S3_SERVER_BIN):
	@mkdir -p $(dir $(S3_SERVER_BIN))
	GOBIN=$(dir $(S3_SERVER_BIN))gobin-versitygw go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	mv $(dir $(S3_SERVER_BIN))gobin-versitygw/versitygw $(S3_SERVER_BIN)

promtool: $(PROMTOOL_BIN)
$(PROMTOOL_BIN):
	@mkdir -p $(dir $(PROMTOOL_BIN))
	GOBIN=$(dir $(PROMTOOL_BIN))gobin-promtool go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)
	mv $(dir $(PROMTOOL_BIN))gobin-promtool/promtool $(PROMTOOL_BIN)

demo: install
	CALLFLOW_LIVEKIT_BIN=$(LIVEKIT_BIN) .venv/bin/callflow demo

dev: install
	CALLFLOW_LIVEKIT_BIN=$(LIVEKIT_BIN) .venv/bin/callflow dev

test: install
	CALLFLOW_LIVEKIT_BIN=$(LIVEKIT_BIN) CALLFLOW_PROMTOOL_BIN=$(PROMTOOL_BIN) .venv/bin/pytest $(PYTEST_ARGS)

lint: python-packages
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: python-packages
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench-agent: install
	CALLFLOW_LIVEKIT_BIN=$(LIVEKIT_BIN) .venv/bin/callflow bench agent --calls 10 --json

bench-peak: install
	CALLFLOW_LIVEKIT_BIN=$(LIVEKIT_BIN) .venv/bin/callflow bench peak --calls 1000 --json

clean:
	rm -rf .callflow .pytest_cache .mypy_cache .ruff_cache
