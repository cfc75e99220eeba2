# Tools for the packaging benchmark (bench/package_bench.py), installed into .tools/.
#
#   include tools/bench.mk      # from the top-level Makefile, after tools/tools.mk, or:
#   make -f tools/bench.mk bench-tools
#
# The benchmark compares `fastsplit package` with the incumbents: AWS SAM (the venv of
# tools/tools.mk) and osls + serverless-python-requirements, pinned in bench/package.json
# and its lock, installed with `npm ci` into .tools/bench-node. Stamp-guarded like
# tools/tools.mk: a no-op until the pin files change.

FASTSPLIT_BENCH_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
_fastsplit_bench_included := $(filter-out 1,$(words $(MAKEFILE_LIST)))
_fastsplit_bench_prev_goal := $(.DEFAULT_GOAL)

# SAM's install lives in tools.mk: read it unless the including Makefile already did.
ifndef FASTSPLIT_TOOLS_SRC
include $(dir $(FASTSPLIT_BENCH_MK))tools.mk
endif

FASTSPLIT_BENCH_SRC := $(abspath $(dir $(FASTSPLIT_BENCH_MK))../bench)
BENCH_NODE_DIR := $(FASTSPLIT_TOOLS_DIR)/bench-node
BENCH_NODE_STAMP := $(BENCH_NODE_DIR)/node.stamp

.PHONY: bench-tools bench-tools-clean

## bench-tools: install osls + serverless-python-requirements (npm) and SAM for the benchmark
bench-tools: $(BENCH_NODE_STAMP) $(TOOLS_SAM_STAMP)

# npm ci wipes node_modules and installs exactly the lock file. Plugins resolve from
# osls's own node_modules, so the benchmark's service folders need no node_modules.
$(BENCH_NODE_STAMP): $(FASTSPLIT_BENCH_SRC)/package.json $(FASTSPLIT_BENCH_SRC)/package-lock.json \
		| $(FASTSPLIT_TOOLS_DIR)/.gitignore
	rm -f $@
	mkdir -p $(BENCH_NODE_DIR)
	cp $(FASTSPLIT_BENCH_SRC)/package.json $(FASTSPLIT_BENCH_SRC)/package-lock.json $(BENCH_NODE_DIR)/
	cd $(BENCH_NODE_DIR) && $(NPM) ci --no-audit --no-fund
	SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
		$(BENCH_NODE_DIR)/node_modules/.bin/osls --version
	test -f $(BENCH_NODE_DIR)/node_modules/serverless-python-requirements/package.json
	touch $@

## bench-tools-clean: remove .tools/bench-node
bench-tools-clean:
	rm -rf $(BENCH_NODE_DIR)

ifneq ($(_fastsplit_bench_included),)
.DEFAULT_GOAL := $(_fastsplit_bench_prev_goal)
endif
