# simpledb-backup: every developer and CI entry point.
# `make demo` and `make test` set up everything they need on a fresh machine.

PYTHON_VERSION := 3.13
PYTHON ?= python$(PYTHON_VERSION)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)/local
# template.yaml uses Fn::ForEach (AWS::LanguageExtensions) for per-domain IAM; SAM CLI expands it on request.
export SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS := 1
export SAM_CLI_TELEMETRY := 0

LOCAL_AWS_PORT ?= 5000
FN ?= backup
EVENT ?= events/backup-nightly.json
STACK_NAME ?= simpledb-backup
ITEMS ?= 20000
LATENCY_MS ?= 30

.PHONY: help setup test lint typecheck template-check pytest demo invoke-local invoke local-aws local-seed bench bench-large \
        build deploy alarms logs clean

help:
	@echo "make setup        install everything into .venv (the CLI: .venv/bin/simpledb-backup --help)"
	@echo "make demo         run the nightly backup and a restore against an embedded local AWS"
	@echo "make test         ruff, mypy, sam validate --lint, cfn-lint and pytest"
	@echo "make local-aws    serve moto + the SimpleDB engine on 127.0.0.1:$(LOCAL_AWS_PORT)"
	@echo "make local-seed   the bucket and a Repoman-shaped domain at AWS_ENDPOINT_URL (after make local-aws)"
	@echo "make invoke-local FN=backup|restore EVENT=events/<file>.json"
	@echo "make invoke       FN=restore EVENT=events/<file>.json  (deployed stack)"
	@echo "make bench        the benchmark of docs/PERFORMANCE.md at 20,000 and 50,000 items, repoman-cli beside (~30 min)"
	@echo "make bench-large  the same and 200,000 items: the figures docs/PERFORMANCE.md shows"
	@echo "make deploy | alarms | logs FN=backup"

# The project itself is installed too, editable, so that .venv/bin/simpledb-backup runs this checkout's code from
# any directory (the local engine, runner and worker included: pyproject.toml).
# Setup talks on stderr only, so that a target's stdout stays its own even when it sets up first
# (`make invoke-local ... | jq` on a fresh clone).
$(VENV)/.installed: requirements-dev.txt pyproject.toml
	@echo "make setup: installing $(VENV) (a few minutes the first time)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(VENV)/bin/pip install --quiet --upgrade pip >&2
	@$(VENV)/bin/pip install --quiet -r requirements-dev.txt --editable . >&2
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@echo "make setup: installing $(SAM_VENV)" >&2
	@$(PYTHON) -m venv $(SAM_VENV) >&2
	@$(SAM_VENV)/bin/pip install --quiet --upgrade pip >&2
	@$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt >&2
	@touch $@

# The IAM policy simulator of tests/iamcheck (@cloud-copilot/iam-simulate, pinned by its package-lock.json),
# run by the machine's Node.js.
IAM_SIMULATOR := tests/iamcheck/simulator
$(IAM_SIMULATOR)/node_modules/.installed: $(IAM_SIMULATOR)/package.json $(IAM_SIMULATOR)/package-lock.json
	@echo "make setup: installing the IAM policy simulator ($(IAM_SIMULATOR))" >&2
	@cd $(IAM_SIMULATOR) && npm ci --no-audit --no-fund --loglevel=error >&2
	@touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(IAM_SIMULATOR)/node_modules/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# One run over every Python file outside tests/ (pyproject.toml's [tool.mypy] files).
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

template-check: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM) validate --lint --region us-east-1
	$(VENV)/bin/cfn-lint template.yaml

pytest: $(VENV)/.installed $(IAM_SIMULATOR)/node_modules/.installed
	$(PY) -m pytest -n 2 -q

test: lint typecheck template-check pytest

demo: $(VENV)/.installed
	@$(PY) scripts/demo.py

# Not echoed: stdout is the function's answer alone, as JSON (`make invoke-local ... | jq`).
invoke-local: $(VENV)/.installed
	@$(PY) scripts/invoke_local.py $(FN) $(EVENT)

# The bucket as template.yaml declares it and a Repoman-shaped domain, at AWS_ENDPOINT_URL (`make local-aws`).
local-seed: $(VENV)/.installed
	@$(PY) -m localrun seed

local-aws: $(VENV)/.installed
	$(PY) -m sdblocal.server --host 127.0.0.1 --port $(LOCAL_AWS_PORT)

# Issue 18's benchmark (docs/PERFORMANCE.md): ~30 min, half of it repoman-cli's restore. The peer, repoman-cli,
# needs a Python 3.9 (PEER_PYTHON=/path/to/python3.9 if it is not found).
bench: $(VENV)/.installed
	$(PY) scripts/bench.py --items $(ITEMS) --slow-items 50000 --latency-ms $(LATENCY_MS)

# The same, and 200,000 items (the 250 ms backup's 10x target and its flat memory are judged there): ~1 h in all.
# docs/PERFORMANCE.md's figures come from this command.
bench-large: $(VENV)/.installed
	$(PY) scripts/bench.py --items 20000 --items 200000 --slow-items 50000 --slow-items 200000 \
	    --latency-ms $(LATENCY_MS)

# sam build, then the layer check: every compiled extension aarch64 and within Amazon Linux 2023's glibc, every
# wheel's platform tag one the runtime takes, and the unzipped sizes within Lambda's limit with a margin.
build: $(SAM_VENV)/.installed $(VENV)/.installed
	$(SAM) build
	$(PY) scripts/check_layer.py .aws-sam/build

deploy: build
	@if [ -f samconfig.toml ]; then $(SAM) deploy; \
	else $(SAM) deploy --guided --stack-name $(STACK_NAME) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND; fi

invoke: $(VENV)/.installed
	$(PY) scripts/invoke_deployed.py --stack-name $(STACK_NAME) $(FN) $(EVENT)

alarms: $(VENV)/.installed
	$(PY) scripts/alarms.py --stack-name $(STACK_NAME)

logs: $(SAM_VENV)/.installed
	$(SAM) logs --stack-name $(STACK_NAME) --name $$(echo $(FN) | sed 's/^./\U&/')Function --tail

clean:
	rm -rf $(VENV) $(SAM_VENV) $(IAM_SIMULATOR)/node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
