# vitpose_mm: `make demo` (set up, then the synthetic train/test demo), `make test` (set up, then the whole suite:
# what CI runs) and `make test-fast` (the tests not marked slow: no training run, subprocess or mim).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
PKG := $(VENV)/.package-installed
HF_STAMP := .venv-hf/.setup-done
PKG_FILES := $(shell find vitpose_mm configs tools -name '*.py' -o -name '*.sh' 2>/dev/null) setup.cfg pyproject.toml
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test test-fast mutation clean-demo

# The pinned OpenMMLab stack (builds mmcv once per machine; see tools/setup_env.sh).
$(STAMP): tools/setup_env.sh
	VENV=$(VENV) bash tools/setup_env.sh

# vitpose_mm itself, reinstalled (no deps, a few seconds) whenever its files change.
$(PKG): $(STAMP) $(PKG_FILES)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall . 2>&1 \
		| grep -v "is ignored: it is neither" || true
	rm -rf build vitpose_mm.egg-info
	cd /tmp && $(abspath $(PY)) -W ignore -c "import vitpose_mm, mim.utils as u; print('[setup] vitpose_mm installed at', u.get_installed_path('vitpose_mm'))"
	touch $@

setup: $(PKG)

# HF transformers in its own environment (it breaks mmpretrain 1.2.0), for the tests that compare with it. If it
# cannot be built, `make test` still runs the suite and those tests skip with the reason (hence the `-`).
$(HF_STAMP): tools/setup_hf_env.sh
	-bash tools/setup_hf_env.sh

demo: $(PKG)
	bash tools/run_demo.sh

test: $(PKG) $(HF_STAMP)
	$(PY) -m pytest -q tests

# The developer's lane: everything but the tests marked slow (pyproject.toml says which). Not what CI runs.
test-fast: $(PKG)
	$(PY) -m pytest -q -m "not slow" tests

# Mutation testing of the core modules against the fast tests (docs/mutation.md); not part of `make test`.
# MUTANTS narrows the run, e.g. make mutation MUTANTS='vitpose_mm.models.layers.pos_embed*'
mutation: $(PKG)
	$(PY) -m pip install -q --disable-pip-version-check 'mutmut==3.8.1' 2>&1 | grep -v "is ignored: it is neither" || true
	$(VENV)/bin/mutmut run $(MUTANTS)
	$(VENV)/bin/mutmut results | grep -v ": not checked" || true

clean-demo:
	rm -rf data/synthetic work_dirs/demo
