# Phase 3 of the Pallet agent workshop, one target per step. `make walkthrough` runs them all.
# Every variable below can be set on the command line: make push REGISTRY=localhost:5001
REGISTRY  ?= localhost:5000
AGENTS    ?= plan,build,test
TAG       ?= v1
TO_TAG    ?= v2
CARDS_DIR ?= fixtures/agent_cards
OUT_DIR   ?= tmp/registry-verify
RUNTIME   ?= deno
export REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR

DENO := node_modules/.bin/deno
# V8 lets its young generation grow to tens of MB under a fleet's steady allocation; capped at
# 2 MB, a 10,000-card run peaks at 150 MB instead of 239 MB for the same CPU per card.
V8_FLAGS := --max-semi-space-size=2
ifeq ($(RUNTIME),deno)
RUN := $(DENO) run -A --quiet --v8-flags=$(V8_FLAGS)
else ifeq ($(RUNTIME),node)
RUN := node $(V8_FLAGS) --import tsx
else
$(error RUNTIME must be node or deno, not "$(RUNTIME)")
endif

TESTS := tests/unit/*.test.ts tests/integration/*.test.ts

.PHONY: help setup registry registry-stop registry-status push list manifest pull verify copy \
        summary walkthrough doctor bench test test-node test-deno clean

help:
	@echo "make walkthrough   run all of Phase 3: registry, push, list, manifest, pull, verify, copy"
	@echo "make test          run the test suite under Node, then under Deno"
	@echo "Steps: registry registry-stop registry-status push list manifest pull verify copy summary"
	@echo "Also:  setup doctor bench clean"
	@echo "Variables: REGISTRY=$(REGISTRY) AGENTS=$(AGENTS) TAG=$(TAG) TO_TAG=$(TO_TAG)"
	@echo "           CARDS_DIR=$(CARDS_DIR) OUT_DIR=$(OUT_DIR) RUNTIME=$(RUNTIME) (node|deno)"

# npm ci only when package.json or the lock file changed since the last install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# A registry binary is installed only when none is at hand and nothing answers at REGISTRY.
setup: node_modules/.package-lock.json
	@curl -sf -o /dev/null "http://$(REGISTRY)/v2/" || command -v docker-registry >/dev/null || \
	  command -v registry >/dev/null || docker info >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's docker-registry (the Docker Distribution registry)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; \
	  else \
	    echo "No registry found: sudo apt-get install docker-registry, or run a Docker engine"; \
	  fi

registry: setup
	@$(RUN) scripts/registry.ts start
registry-stop: setup
	@$(RUN) scripts/registry.ts stop
registry-status: setup
	@$(RUN) scripts/registry.ts status

push list manifest pull verify copy summary doctor: setup
	@$(RUN) scripts/$@.ts

walkthrough: setup
	@start=$$(date +%s%3N); \
	$(MAKE) --no-print-directory registry push list manifest pull verify copy && \
	WALKTHROUGH_STARTED=$$start $(RUN) scripts/summary.ts

# N=10000 for the large fleet, SCALE=1 for the scale curve; RUNTIME tells it which runtime is the default.
bench: setup
	@RUNTIME=$(RUNTIME) V8_FLAGS=$(V8_FLAGS) $(RUN) scripts/bench.ts

test: test-node test-deno

test-node: setup
	node --import tsx --test $(TESTS)

test-deno: setup
	$(DENO) test -A $(TESTS)

clean:
	-@$(RUN) scripts/registry.ts stop
	rm -rf tmp
