# Two commands on a fresh machine:  make demo  (install + run the main job on sample_data/)
#                                   make test  (install + run the tests)
# Each creates .venv itself. The CPU build of torch is installed first where none is present,
# so no later dependency drags in a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := .curate-demo

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[hf,fast,embed,tui,train,bench,dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/curate -w $(DEMO) ingest sample_data/support_chat.jsonl sample_data/support_faq.json \
		sample_data/tool_calls_sharegpt.json sample_data/escalations.csv --as support
	$(BIN)/curate -w $(DEMO) ingest sample_data/production_queries.csv --as production --kind queries
	$(BIN)/curate -w $(DEMO) status
	$(BIN)/curate -w $(DEMO) dedup --collection support --methods exact,near,semantic --against production \
		--report $(DEMO)/dedup.json
	$(BIN)/curate -w $(DEMO) check --collection support --max-length 512 --prune-bottom 10% --report $(DEMO)/checks.json
	$(BIN)/curate -w $(DEMO) coverage --train support --queries production --html $(DEMO)/coverage.html \
		--markdown $(DEMO)/coverage.md --json $(DEMO)/coverage.json
	$(BIN)/curate -w $(DEMO) export $(DEMO)/export --collection support --split 80/10/10 --stratify cluster
	$(BIN)/curate plan $(DEMO)/export --model llama-3-8b --method qlora
	@echo "Smoke run: a tiny random model, to prove the training path end to end (not a useful model):"
	$(BIN)/curate train $(DEMO)/export --model tiny --max-steps 30 --output $(DEMO)/adapter-tiny
	@echo "Explore: $(BIN)/curate -w $(DEMO) quarantine   |   $(BIN)/curate -w $(DEMO) show <id>   |   open $(DEMO)/coverage.html"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dedup.py --scale 1000000
	$(BIN)/python bench/semantic.py
	$(BIN)/python bench/coverage_gaps.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/checks.py --speed 20000

clean:
	rm -rf $(VENV) $(DEMO) .curate *.egg-info
