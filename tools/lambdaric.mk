# The AWS Lambda Runtime Interface Client for tests/test_lambda_runtime_client.py.
#
#   include tools/lambdaric.mk  # from the top-level Makefile, or standalone:
#   make -f tools/lambdaric.mk lambdaric
#
# Not a venv: a plain `pip install --target` folder, so the tests can put it on sys.path of
# an interpreter started with -S -E (no site-packages at all) next to an unzipped artifact.
# It holds a native extension built for one CPython version: the stamp records the
# interpreter that installed it, and the tests run exactly that one. The stamp depends on
# the pin file, so re-running is a no-op until tools/requirements-lambdaric.txt changes.

# Paths are anchored on this file, not on the current directory, so the fragment works
# both included and with `make -f`. Must be read before any other `include`.
FASTSPLIT_LAMBDARIC_SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Included from another Makefile: do not take over its default goal (restored at the end).
_fastsplit_lambdaric_included := $(filter-out 1,$(words $(MAKEFILE_LIST)))
_fastsplit_lambdaric_prev_goal := $(.DEFAULT_GOAL)
FASTSPLIT_TOOLS_DIR ?= $(abspath $(FASTSPLIT_LAMBDARIC_SRC)/../.tools)

# The Python the Lambda runtime runs on in the tests; the packaged artifacts are built for
# its version. 3.11: awslambdaric 4.2.2 ships cp311 manylinux wheels.
LAMBDARIC_PYTHON ?= python3.11

LAMBDARIC_REQUIREMENTS := $(FASTSPLIT_LAMBDARIC_SRC)/requirements-lambdaric.txt
LAMBDARIC_DIR := $(FASTSPLIT_TOOLS_DIR)/lambdaric
LAMBDARIC_STAMP := $(FASTSPLIT_TOOLS_DIR)/lambdaric.stamp

.PHONY: lambdaric

## lambdaric: install awslambdaric (the real Lambda runtime client) into .tools/lambdaric
lambdaric: $(LAMBDARIC_STAMP)

# A fresh folder on every change: pip install --target over an old one would keep packages
# that the new pins dropped. --no-deps: the pin file is the complete set. --only-binary: a
# missing wheel must fail here, not compile a different runtime client. The check imports
# it the way the tests do (-S -E, only this folder added), then the stamp records the
# interpreter's real path (what the tests start).
$(LAMBDARIC_STAMP): $(LAMBDARIC_REQUIREMENTS)
	rm -rf $@ $(LAMBDARIC_DIR)
	mkdir -p $(FASTSPLIT_TOOLS_DIR)
	test -f $(FASTSPLIT_TOOLS_DIR)/.gitignore || printf '*\n' > $(FASTSPLIT_TOOLS_DIR)/.gitignore
	$(LAMBDARIC_PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --target $(LAMBDARIC_DIR) -r $(LAMBDARIC_REQUIREMENTS)
	$(LAMBDARIC_PYTHON) -S -E -c 'import sys; sys.path.insert(0, sys.argv[1]); \
		import awslambdaric, awslambdaric.bootstrap, runtime_client, simplejson, snapshot_restore_py; \
		print("awslambdaric", awslambdaric.__version__, "on Python", sys.version.split()[0])' \
		$(LAMBDARIC_DIR)
	$(LAMBDARIC_PYTHON) -S -E -c 'import sys; print(sys.executable)' > $@.tmp
	mv $@.tmp $@

ifneq ($(_fastsplit_lambdaric_included),)
.DEFAULT_GOAL := $(_fastsplit_lambdaric_prev_goal)
endif
