# A venv with the oldest FastAPI fastsplit supports, for tests/test_fastapi_compat.py.
#
#   include tools/compat.mk     # from the top-level Makefile, or standalone:
#   make -f tools/compat.mk compat-venv
#
# The venv holds exactly tools/requirements-fastapi-oldest.txt and not fastsplit itself:
# the tests run the checkout with PYTHONPATH pointing at it, so code changes need no
# reinstall. The stamp depends on the pin file, so re-running is a no-op until it changes.

# Paths are anchored on this file, not on the current directory, so the fragment works
# both included and with `make -f`. Must be read before any other `include`.
FASTSPLIT_COMPAT_SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Included from another Makefile: do not take over its default goal (restored at the end).
_fastsplit_compat_included := $(filter-out 1,$(words $(MAKEFILE_LIST)))
_fastsplit_compat_prev_goal := $(.DEFAULT_GOAL)
FASTSPLIT_TOOLS_DIR ?= $(abspath $(FASTSPLIT_COMPAT_SRC)/../.tools)

PYTHON ?= python3

COMPAT_OLDEST_REQUIREMENTS := $(FASTSPLIT_COMPAT_SRC)/requirements-fastapi-oldest.txt
COMPAT_OLDEST_VENV := $(FASTSPLIT_TOOLS_DIR)/fastapi-oldest
COMPAT_OLDEST_STAMP := $(FASTSPLIT_TOOLS_DIR)/fastapi-oldest.stamp

.PHONY: compat-venv

## compat-venv: create .tools/fastapi-oldest, a venv with the oldest supported FastAPI
compat-venv: $(COMPAT_OLDEST_STAMP)

# A fresh venv on every change: pip install -r over an old venv would keep packages that
# the new pins dropped. The .gitignore is written here rather than through tools.mk's rule
# so this fragment also works on its own; .tools/ ignores itself either way.
$(COMPAT_OLDEST_STAMP): $(COMPAT_OLDEST_REQUIREMENTS)
	rm -rf $@ $(COMPAT_OLDEST_VENV)
	mkdir -p $(FASTSPLIT_TOOLS_DIR)
	test -f $(FASTSPLIT_TOOLS_DIR)/.gitignore || printf '*\n' > $(FASTSPLIT_TOOLS_DIR)/.gitignore
	$(PYTHON) -m venv $(COMPAT_OLDEST_VENV)
	$(COMPAT_OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r $(COMPAT_OLDEST_REQUIREMENTS)
	$(COMPAT_OLDEST_VENV)/bin/python -m pip check
	$(COMPAT_OLDEST_VENV)/bin/python -W error -c \
		'import fastapi, fastapi.testclient, mangum; print("fastapi", fastapi.__version__)'
	touch $@

ifneq ($(_fastsplit_compat_included),)
.DEFAULT_GOAL := $(_fastsplit_compat_prev_goal)
endif
