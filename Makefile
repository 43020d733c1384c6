# Two commands on a fresh machine:  make demo  (install + run the main job on sample_data/)
#                                   make test  (install + lint + types + the tests)
# Each creates .venv itself from requirements/lock.txt: every package, direct or transitive, of every
# extra, pinned with its hashes (pip-tools; docs/DESIGN.md says why), so a fresh install next month gets
# exactly what the tests last passed with. torch is the CPU build (2.13.0+cpu), never a multi-GB CUDA one.
#   make lock         refresh the lock to the newest releases pyproject.toml allows (then run make test)
#   make test-latest  the tests against the newest releases, in .venv-latest (not CI): drift, seen early

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
EXTRAS := hf,fast,embed,tui,train,ray,bench,dev
LATEST := .venv-latest
DEMO   := .curate-demo

.PHONY: demo test lint bench lock test-latest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The lock pins pip, setuptools and pip-tools too; the project itself goes in last, without its
# dependencies (all in the lock already) and without build isolation (so the pinned setuptools builds it).
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -qq --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
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
	@echo "What the loss sees, on the tiny model's template (a tool-call example first):"
	$(BIN)/curate plan $(DEMO)/export --model tiny --show-masks 1
	@echo "Smoke run: a tiny random model, to prove the training path end to end (not a useful model):"
	$(BIN)/curate train $(DEMO)/export --model tiny --max-steps 30 --output $(DEMO)/adapter-tiny
	@echo "Explore: $(BIN)/curate -w $(DEMO) quarantine   |   $(BIN)/curate -w $(DEMO) show <id>   |   open $(DEMO)/coverage.html"

test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check curate tui train_bridge tests bench
	$(BIN)/mypy

# pip-compile reads pip's own configuration, so it sees the same indexes (and the CPU torch wheel) as pip.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra $(EXTRAS) --output-file $(LOCK) pyproject.toml requirements/tools.in
	@echo "Lock refreshed: review 'git diff $(LOCK)', then run make test."

# The newest releases pyproject.toml allows, torch aside (it stays the CPU build: a newer one is a CUDA
# download of several GB). Not part of CI: it tells whether the next `make lock` will pass.
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	echo "torch==2.13.0" > $(LATEST)/torch.txt
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -c $(LATEST)/torch.txt -e '.[$(EXTRAS)]'
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/versions.txt
	@echo "Newest releases installed (list: $(LATEST)/versions.txt); differences from the lock:"
	@$(LATEST)/bin/python requirements/compare.py $(LOCK) $(LATEST)/versions.txt
	$(LATEST)/bin/ruff check curate tui train_bridge tests bench
	$(LATEST)/bin/mypy
	$(LATEST)/bin/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dedup.py --scale 1000000
	$(BIN)/python bench/semantic.py
	$(BIN)/python bench/coverage_gaps.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/checks.py --speed 20000

clean:
	rm -rf $(VENV) $(LATEST) $(DEMO) .curate *.egg-info
