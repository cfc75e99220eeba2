# The Vercel CLI and what `vercel build` needs offline, for tests/test_vercel.py, in .tools/vercel/.
#
#   include tools/vercel.mk     # from the top-level Makefile, or standalone:
#   make -f tools/vercel.mk vercel-tools
#
# .tools/vercel/
#   node_modules/   vercel@58.10.0, @vercel/routing-utils, @vercel/build-utils, ajv (npm ci)
#   uv-venv/        uv, pinned as @vercel/python 6.56.2 pins it (requirements-uv.txt)
#   bin/            uv and python3.12 (symlinks): `vercel build` runs both from PATH
#   wheels/         every wheel `vercel build` installs for example_app, Python 3.12 x86_64,
#                   so that uv resolves offline (requirements-wheelhouse.txt)
#
# Guarded by a stamp that depends on the pin files: re-running is a no-op until they change.

# Paths are anchored on this file, not on the current directory, so the fragment works
# both included and with `make -f`. Must be read before any other `include`.
FASTSPLIT_VERCEL_SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/vercel)
# Included from another Makefile: do not take over its default goal (restored at the end).
_fastsplit_vercel_included := $(filter-out 1,$(words $(MAKEFILE_LIST)))
_fastsplit_vercel_prev_goal := $(.DEFAULT_GOAL)
FASTSPLIT_TOOLS_DIR ?= $(abspath $(FASTSPLIT_VERCEL_SRC)/../../.tools)

PYTHON ?= python3
NPM ?= npm
# Vercel's Python runtime needs 3.12: the python3.12 on PATH (asked for its real path, a
# pyenv shim is no interpreter), else the newest 3.12 that pyenv has.
VERCEL_PYTHON312 ?= $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || \
	PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep '^3\.12' | tail -n 1) \
	pyenv which python3.12 2>/dev/null)

VERCEL_TOOLS := $(FASTSPLIT_TOOLS_DIR)/vercel
VERCEL_STAMP := $(FASTSPLIT_TOOLS_DIR)/vercel.stamp
VERCEL_PINS := $(addprefix $(FASTSPLIT_VERCEL_SRC)/,package.json package-lock.json \
	requirements-uv.txt requirements-wheelhouse.txt)

.PHONY: vercel-tools

## vercel-tools: install the Vercel CLI, uv, python3.12 link and an offline wheelhouse
vercel-tools: $(VERCEL_STAMP)

# Everything is made afresh on any change: npm ci wipes node_modules anyway, and a
# wheelhouse must hold exactly the pinned wheels (uv picks the newest it finds).
$(VERCEL_STAMP): $(VERCEL_PINS)
	@test -n "$(VERCEL_PYTHON312)" || { echo "vercel-tools: no python3.12 on PATH or in" \
		"pyenv; install Python 3.12 or pass VERCEL_PYTHON312=/path/to/python3.12" >&2; exit 1; }
	rm -rf $@ $(VERCEL_TOOLS)
	mkdir -p $(VERCEL_TOOLS)/bin
	test -f $(FASTSPLIT_TOOLS_DIR)/.gitignore || printf '*\n' > $(FASTSPLIT_TOOLS_DIR)/.gitignore
	cp $(FASTSPLIT_VERCEL_SRC)/package.json $(FASTSPLIT_VERCEL_SRC)/package-lock.json $(VERCEL_TOOLS)/
	cd $(VERCEL_TOOLS) && $(NPM) ci --ignore-scripts --no-audit --no-fund
	$(PYTHON) -m venv $(VERCEL_TOOLS)/uv-venv
	$(VERCEL_TOOLS)/uv-venv/bin/python -m pip install --quiet --disable-pip-version-check \
		-r $(FASTSPLIT_VERCEL_SRC)/requirements-uv.txt
	ln -s ../uv-venv/bin/uv $(VERCEL_TOOLS)/bin/uv
	ln -s $(VERCEL_PYTHON312) $(VERCEL_TOOLS)/bin/python3.12
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --implementation cp --python-version 3.12 --abi cp312 \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
		-r $(FASTSPLIT_VERCEL_SRC)/requirements-wheelhouse.txt -d $(VERCEL_TOOLS)/wheels
	VERCEL_TELEMETRY_DISABLED=1 NO_UPDATE_NOTIFIER=1 \
		$(VERCEL_TOOLS)/node_modules/.bin/vercel --version
	$(VERCEL_TOOLS)/bin/uv --version
	$(VERCEL_TOOLS)/bin/python3.12 --version
	touch $@

ifneq ($(_fastsplit_vercel_included),)
.DEFAULT_GOAL := $(_fastsplit_vercel_prev_goal)
endif
