# Phase 3 of the Pallet agent workshop, one target per step. `make walkthrough` runs them all.
# Every variable below can be set on the command line: make push REGISTRY=localhost:5001
REGISTRY  ?= localhost:5000
AGENTS    ?= plan,build,test
TAG       ?= v1
TO_TAG    ?= v2
CARDS_DIR ?= fixtures/agent_cards
OUT_DIR   ?= tmp/registry-verify
RUNTIME   ?= deno

# A value is text, never code. Make would expand $(…) in a value from the command line (or, for
# the variables above, from the environment), and a recipe that pasted it into a command would
# hand `…` and $(…) to the shell. So every such value is taken literally and exported (which
# an override would otherwise stop), and recipes read values only from their environment
# ("$$REGISTRY"), which the scripts then validate.
literal_values := REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR RUNTIME \
  $(foreach name,$(.VARIABLES),$(if $(filter command,$(firstword $(origin $(name)))),$(name)))
$(foreach name,$(sort $(literal_values)),$(eval override $(name) := $$(value $(name))))
export $(literal_values)

DENO := node_modules/.bin/deno
# Steps run without V8 flags: with any, Node compiles the built-in modules a step loads instead
# of taking them from its code cache, about 40 ms a step. The bench runs fleets, and under their
# steady allocation V8 lets its young generation grow to tens of MB; capped at 2 MB, a 10,000-card
# run peaks at 150 MB instead of 239 MB for the same CPU per card.
V8_FLAGS :=
bench: V8_FLAGS := --max-semi-space-size=2
# The service runs for hours and reads the registry again and again: so capped, it stays at
# 160 MB with 10,000 cards where it reached 280 MB.
SERVE_V8_FLAGS := --max-semi-space-size=2
serve: V8_FLAGS := $(SERVE_V8_FLAGS)
TESTS := tests/unit/*.test.ts tests/integration/*.test.ts
NOTATION_VERSION := v1.3.2
NOTATION := tmp/tools/bin/notation
# The programs the tests start, as command:Debian-package; `make test` installs what is missing.
TEST_TOOLS := docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils openssl:openssl chromium:chromium
# What `make bench` starts besides them: nginx serves the discovery service's answers as files, ab loads both.
BENCH_TOOLS := $(TEST_TOOLS) nginx:nginx-light ab:apache2-utils
export REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR RUNTIME DENO V8_FLAGS TESTS TEST_TOOLS BENCH_TOOLS

# $(call step,NAME) runs scripts/NAME.ts. Node runs it bundled into dist/NAME.mjs: through tsx
# it would compile the TypeScript at every start, which made each step take 4x Deno's time.
ifeq ($(RUNTIME),deno)
step = "$$DENO" run -A --quiet $${V8_FLAGS:+"--v8-flags=$$V8_FLAGS"} scripts/$(1).ts
READY := node_modules/.package-lock.json
else ifeq ($(RUNTIME),node)
step = node $$V8_FLAGS dist/$(1).mjs
READY := node_modules/.package-lock.json dist/.built
else
$(error RUNTIME must be node or deno, not "$(RUNTIME)")
endif

.PHONY: help setup registry registry-stop registry-status push list manifest pull verify copy \
        summary walkthrough doctor oras bench validators test test-node test-deno test-tools go-tools bench-tools clean

help:
	@echo "make walkthrough   run all of Phase 3: registry, push, list, manifest, pull, verify, copy"
	@echo "make test          run the test suite under Node, then under Deno"
	@echo "Steps: registry registry-stop registry-status push list manifest pull verify copy summary"
	@echo "Real registries: login logout mirror doctor    oras without oras: make oras ARGS='repo ls localhost:5000'"
	@echo "Discovery and versions: discover serve publish diff versions"
	@echo "Trust: keygen sign (KEY=… signs push and publish, VERIFY=off|if-present|require checks pull, verify, publish)"
	@echo "Agent lifecycle: packages run agents stop logs upgrade rollback ask phase5"
	@echo "Also:  setup bench validators go-tools clean"
	@printf 'Variables: REGISTRY=%s AGENTS=%s TAG=%s TO_TAG=%s\n' "$$REGISTRY" "$$AGENTS" "$$TAG" "$$TO_TAG"
	@printf '           CARDS_DIR=%s OUT_DIR=%s RUNTIME=%s (node|deno)\n' "$$CARDS_DIR" "$$OUT_DIR" "$$RUNTIME"

# Only what is missing is installed, and nothing is asked of the network otherwise.
setup: $(READY)

# npm ci only when package.json or the lock file changed since the last install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# One flat bundle per script: dist/ sits at the depth of lib/ and scripts/, so the scripts'
# new URL("../fixtures/…", import.meta.url) still resolve; packages load from node_modules.
# Each file is renamed into place, so a step running meanwhile never reads half a bundle.
dist/.built: $(wildcard scripts/*.ts lib/*.ts lib/*/*.[jt]s lib/*/*/*.[jt]s bench/*.ts) node_modules/.package-lock.json Makefile
	@out=$$(mktemp -d dist.XXXXXX) && \
	node_modules/.bin/esbuild scripts/*.ts --bundle --platform=node --format=esm --target=node20 \
	  --packages=external --outdir="$$out" --out-extension:.js=.mjs --log-level=warning || { rm -rf "$$out"; exit 1; }; \
	mkdir -p dist && mv -f "$$out"/* dist/ && rmdir "$$out" && touch $@

# Installs, as root with apt-get, the package of every command:package in $$TOOLS whose command
# is not on PATH; otherwise says what to install and fails.
define install_missing
set -f; missing=; \
for tool in $$TOOLS; do command -v "$${tool%%:*}" >/dev/null || missing="$$missing $${tool#*:}"; done; \
if [ -z "$$missing" ]; then :; \
elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
  echo "Installing$$missing (apt-get)"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
else \
  echo "Missing:$$missing. Install with: sudo apt-get install$$missing (or your system's packages), then run again." >&2; \
  exit 2; \
fi
endef

# Debian's docker-registry, only when there is neither a registry binary nor a Docker engine to
# start one (a docker CLI with no engine behind it starts nothing); without it the step still
# reuses a registry that answers at REGISTRY.
registry: setup
	@command -v docker-registry >/dev/null || command -v registry >/dev/null || docker info >/dev/null 2>&1 || \
	  (TOOLS=docker-registry:docker-registry; $(install_missing)) || true
	@$(call step,registry) start
registry-stop: setup
	@$(call step,registry) stop
registry-status: setup
	@$(call step,registry) status

push list manifest pull verify copy summary doctor walkthrough: setup
	@$(call step,$@)

# Phase 4 and 5 (docs/discovery.md): make discover SKILL=create_plan, make serve,
# make publish CARD=path TAG=v2, make diff AGENT=plan FROM=v1 TO=v2, make versions AGENT=plan.
.PHONY: discover serve publish diff versions
export SKILL AGENT DISCOVER_TAG REFRESH CRAWL INDEX_ONLY SERVE_ADDR CARD FORCE FROM TO DISCOVERY_CACHE
discover serve publish diff versions: setup
	@$(call step,$@)

# Trust (docs/trust.md): make keygen KEY=keys/publisher.key.pem makes a key pair and trusts it
# for REGISTRY (or SCOPE); make sign CARD=path KEY=path signs a card; push and publish sign with
# KEY (and attach a Notary Project signature with CERT); pull, verify and publish apply VERIFY.
.PHONY: keygen sign
export KEY CERT ALG SCOPE VERIFY TRUST_STORE
keygen sign: setup
	@$(call step,$@)

# Phase 5, agent lifecycle (docs/phase5.md): make packages publishes each agent's card and code as
# one artifact; make run AGENT=plan TAG=v1 pulls and starts it; agents, stop, logs, upgrade
# AGENT=plan TO=v2, rollback, ask AGENT=plan INPUT='{…}'; make phase5 runs them all.
.PHONY: packages run agents stop logs upgrade rollback ask phase5
export PORT PORTS WORKSPACE AGENTS_DIR HEALTH_TIMEOUT RESTART INPUT STREAM ANSWER
packages run agents stop logs upgrade rollback ask phase5: setup
	@$(call step,$@)

# Real registries (docs/real-registries.md): make login REGISTRY=host:port
# REGISTRY_USERNAME=me, the password on stdin or in REGISTRY_PASSWORD; make logout; and
# make mirror FROM=host:port TO=host:port, each side with its own FROM_…/TO_… settings.
.PHONY: login logout mirror
export REGISTRY_USERNAME REGISTRY_CA_FILE REGISTRY_INSECURE PLAIN_HTTP \
  FROM_CA_FILE FROM_INSECURE FROM_PLAIN_HTTP FROM_USERNAME TO_CA_FILE TO_INSECURE TO_PLAIN_HTTP TO_USERNAME
login logout mirror: setup
	@$(call step,$@)

# make oras ARGS='repo ls localhost:5000': the oras command without oras (scripts/oras.ts). ARGS
# reaches the script as text in the environment and is split into words there, never by a shell.
oras: export ORAS_ARGS := $(value ARGS)
oras: setup
	@$(call step,oras)

# Steps timed under both runtimes against bench/ baselines; the fleet and discovery run under RUNTIME.
# PART=discovery (or walkthrough, fleet): that part alone. N=10000 SCALE=1: the large fleet.
bench: setup bench-tools
	@$(call step,bench)

bench-tools:
	@TOOLS=$$BENCH_TOOLS; $(install_missing)

# Compiles fixtures/schemas/ into lib/generated/card-validators.js; run after changing a schema, commit both.
validators: setup
	@$(call step,build-validators)

test: test-node test-deno

test-node: setup test-tools
	node --import tsx --test $$TESTS

test-deno: setup test-tools
	"$$DENO" test -A $$TESTS

# The reference tools the tests hold our client against, built with Go from pinned sources into
# tmp/tools/bin (docs/oras.md#checked-against-the-real-oras): the real oras, crane, and
# go-containerregistry's registry with the referrers API (tests/tools/referrers-registry). Each is
# built once; a new pin is a new file, so it is built again. Without Go their tests are skipped,
# saying so.
GO := $(shell command -v go 2>/dev/null)
ORAS_VERSION := v1.3.6
GGCR_VERSION := v0.22.1
TOOLS_BIN := tmp/tools/bin
go-tools: $(TOOLS_BIN)/oras $(TOOLS_BIN)/crane $(TOOLS_BIN)/referrers-registry

tmp/tools/oras-$(ORAS_VERSION)/oras:
	GOBIN="$(CURDIR)/$(@D)" go install oras.land/oras/cmd/oras@$(ORAS_VERSION)
tmp/tools/crane-$(GGCR_VERSION)/crane:
	GOBIN="$(CURDIR)/$(@D)" go install github.com/google/go-containerregistry/cmd/crane@$(GGCR_VERSION)
$(TOOLS_BIN)/oras: tmp/tools/oras-$(ORAS_VERSION)/oras
$(TOOLS_BIN)/crane: tmp/tools/crane-$(GGCR_VERSION)/crane
$(TOOLS_BIN)/oras $(TOOLS_BIN)/crane:
	@mkdir -p $(@D) && ln -sfn ../$(patsubst tmp/tools/%,%,$<) $@
$(TOOLS_BIN)/referrers-registry: $(wildcard tests/tools/referrers-registry/*)
	cd tests/tools/referrers-registry && go build -o "$(CURDIR)/$@" .

test-tools: $(if $(GO),go-tools) $(NOTATION)
	@TOOLS=$$TEST_TOOLS; $(install_missing)
	$(if $(GO),,@echo "No go on PATH: the tests against the real oras, crane and the referrers registry will say SKIPPED (make go-tools builds them, with Go 1.22 or later)")

# notation, the Notary Project's CLI, which tests/integration/notary.test.ts runs on our signatures:
# built once with Go from the module proxy, then reused. Not `go install …@version`: that reads the
# module's version list for deprecation notices, which the module proxy here refuses (403). Without
# Go the build is left out, and the test is skipped saying so.
$(NOTATION):
	@if ! command -v go >/dev/null; then echo "Go is not installed: tests that run notation are skipped"; exit 0; fi; \
	echo "Building notation $(NOTATION_VERSION) with Go into $@ (once; about a minute)"; \
	go mod download github.com/notaryproject/notation@$(NOTATION_VERSION) && \
	mkdir -p $(@D) && cd "$$(go env GOMODCACHE)/github.com/notaryproject/notation@$(NOTATION_VERSION)" && \
	go build -trimpath -o "$(CURDIR)/$@" ./cmd/notation

# Stops every registry `make registry` started, at any address, before their state goes.
clean: setup
	-@$(call step,registry) stop-all
	rm -rf tmp dist
