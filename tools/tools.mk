# Real deploy tools used by the test suite (see tests/tooling.py), installed into .tools/.
#
#   include tools/tools.mk      # from the top-level Makefile, or standalone:
#   make -f tools/tools.mk tools
#
# Each install is guarded by a stamp file that depends on its pin file, so re-running
# `make tools` is a no-op until tools/package-lock.json or tools/requirements-sam.txt change.

# Paths are anchored on this file, not on the current directory, so the fragment works
# both included and with `make -f`. Must be read before any other `include`.
FASTSPLIT_TOOLS_SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Included from another Makefile: do not take over its default goal (restored at the end).
_fastsplit_tools_included := $(filter-out 1,$(words $(MAKEFILE_LIST)))
_fastsplit_tools_prev_goal := $(.DEFAULT_GOAL)
FASTSPLIT_TOOLS_DIR ?= $(abspath $(FASTSPLIT_TOOLS_SRC)/../.tools)

PYTHON ?= python3
NPM ?= npm

TOOLS_NODE_STAMP := $(FASTSPLIT_TOOLS_DIR)/node.stamp
TOOLS_SAM_STAMP := $(FASTSPLIT_TOOLS_DIR)/sam.stamp
TOOLS_SAM_VENV := $(FASTSPLIT_TOOLS_DIR)/sam-venv

.PHONY: tools tools-clean

## tools: install osls + serverless-offline (npm) and aws-sam-cli + cfn-lint (venv) into .tools/
tools: $(TOOLS_NODE_STAMP) $(TOOLS_SAM_STAMP)

# The folder ignores itself, so it stays out of git even without a root .gitignore entry.
$(FASTSPLIT_TOOLS_DIR)/.gitignore:
	mkdir -p $(@D)
	printf '*\n' > $@

# npm ci wipes node_modules and installs exactly the lock file; .npmrc carries
# legacy-peer-deps (the flag is repeated so an npm that ignores the file still agrees).
$(TOOLS_NODE_STAMP): $(FASTSPLIT_TOOLS_SRC)/package.json $(FASTSPLIT_TOOLS_SRC)/package-lock.json \
		$(FASTSPLIT_TOOLS_SRC)/.npmrc | $(FASTSPLIT_TOOLS_DIR)/.gitignore
	rm -f $@
	cp $(FASTSPLIT_TOOLS_SRC)/package.json $(FASTSPLIT_TOOLS_SRC)/package-lock.json \
		$(FASTSPLIT_TOOLS_SRC)/.npmrc $(FASTSPLIT_TOOLS_DIR)/
	cd $(FASTSPLIT_TOOLS_DIR) && $(NPM) ci --legacy-peer-deps --no-audit --no-fund
	SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
		$(FASTSPLIT_TOOLS_DIR)/node_modules/.bin/osls --version
	touch $@

# A fresh venv on every change: pip install -r over an old venv would keep packages
# that the new pins dropped.
$(TOOLS_SAM_STAMP): $(FASTSPLIT_TOOLS_SRC)/requirements-sam.txt | $(FASTSPLIT_TOOLS_DIR)/.gitignore
	rm -rf $@ $(TOOLS_SAM_VENV)
	$(PYTHON) -m venv $(TOOLS_SAM_VENV)
	$(TOOLS_SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r $(FASTSPLIT_TOOLS_SRC)/requirements-sam.txt
	SAM_CLI_TELEMETRY=0 $(TOOLS_SAM_VENV)/bin/sam --version
	$(TOOLS_SAM_VENV)/bin/cfn-lint --version
	touch $@

## tools-clean: remove .tools/
tools-clean:
	rm -rf $(FASTSPLIT_TOOLS_DIR)

ifneq ($(_fastsplit_tools_included),)
.DEFAULT_GOAL := $(_fastsplit_tools_prev_goal)
endif
