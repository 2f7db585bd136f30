# Phase 3 of the Pallet agent workshop, one target per step. `make walkthrough` runs them all.
# Every variable below can be set on the command line: make push REGISTRY=localhost:5001
REGISTRY  ?= localhost:5000
AGENTS    ?= plan,build,test
TAG       ?= v1
TO_TAG    ?= v2
CARDS_DIR ?= fixtures/agent_cards
OUT_DIR   ?= tmp/registry-verify
RUNTIME   ?= deno

# What each target reads (docs/options.md says what every variable means; `make help` lists them).
STEP   := RUNTIME NO_COLOR PAUSE HELP JSON
REMOTE := REGISTRY REGISTRY_CA_FILE REGISTRY_INSECURE PLAIN_HTTP REGISTRY_USERNAME REGISTRY_PASSWORD DOCKER_CONFIG REGISTRY_TIMEOUT
ORAS   := ORAS_BACKEND
vars.registry        := $(STEP) REGISTRY
vars.registry-stop   := $(STEP) REGISTRY
vars.registry-status := $(STEP) REGISTRY
vars.reset           := $(STEP) REGISTRY YES
vars.push            := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG CARDS_DIR SOURCE_DATE_EPOCH DISCOVERY_CACHE KEY CERT
vars.list            := $(STEP) $(REMOTE) $(ORAS) AGENTS
vars.manifest        := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG
vars.pull            := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG OUT_DIR VERIFY TRUST_STORE
vars.verify          := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG CARDS_DIR OUT_DIR VERIFY TRUST_STORE KEY
vars.copy            := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG TO_TAG DISCOVERY_CACHE
vars.summary         := $(STEP) $(REMOTE) AGENTS TAG TO_TAG
vars.walkthrough     := $(sort $(foreach step,registry push list manifest pull verify copy summary,$(vars.$(step))))
vars.untag           := $(STEP) $(REMOTE) AGENTS TAG YES DISCOVERY_CACHE
vars.doctor          := $(STEP) $(REMOTE) $(ORAS)
vars.discover        := $(STEP) $(REMOTE) SKILL NAME DISCOVER_TAG REFRESH CRAWL INDEX_ONLY DISCOVERY_CACHE VERIFY TRUST_STORE KEY
vars.serve           := $(STEP) $(REMOTE) SERVE_ADDR INDEX_ONLY DISCOVERY_CACHE VERIFY TRUST_STORE
vars.publish         := $(STEP) $(REMOTE) $(ORAS) CARD TAG FORCE SOURCE_DATE_EPOCH DISCOVERY_CACHE KEY CERT VERIFY TRUST_STORE
vars.keygen          := $(STEP) REGISTRY TRUST_STORE KEY ALG SCOPE
vars.sign            := $(STEP) CARD KEY
# Phase 5: AGENT is the one agent a lifecycle target works on, TO the tag make upgrade goes to.
LIFE := AGENTS_DIR WORKSPACE HEALTH_TIMEOUT
vars.packages        := $(STEP) $(REMOTE) $(ORAS) AGENTS TAG CARDS_DIR SOURCE_DATE_EPOCH KEY
vars.run             := $(STEP) $(REMOTE) $(ORAS) $(LIFE) VERIFY TRUST_STORE AGENT TAG PORT
vars.agents          := $(STEP) $(REMOTE) $(ORAS) $(LIFE) VERIFY TRUST_STORE AGENTS TAG RESTART
vars.stop            := $(STEP) $(REMOTE) $(ORAS) $(LIFE) AGENT TAG
vars.logs            := $(STEP) $(LIFE) AGENT
vars.upgrade         := $(STEP) $(REMOTE) $(ORAS) $(LIFE) VERIFY TRUST_STORE AGENT TO
vars.rollback        := $(STEP) $(REMOTE) $(ORAS) $(LIFE) VERIFY TRUST_STORE AGENT
vars.ask             := $(STEP) $(REMOTE) $(ORAS) $(LIFE) AGENT TAG INPUT STREAM ANSWER
vars.phase5          := $(STEP) $(REMOTE) $(ORAS) $(LIFE) VERIFY TRUST_STORE PORTS SOURCE_DATE_EPOCH KEY
vars.diff            := $(STEP) $(REMOTE) AGENTS TAG TO_TAG
vars.versions        := $(STEP) $(REMOTE) $(ORAS) AGENTS DISCOVERY_CACHE VERIFY TRUST_STORE
vars.login           := $(STEP) $(REMOTE) $(ORAS)
vars.logout          := $(STEP) $(REMOTE) $(ORAS)
vars.mirror          := $(STEP) REGISTRY_TIMEOUT DOCKER_CONFIG FROM TO AGENTS \
                        $(foreach side,FROM TO,$(addprefix $(side)_,CA_FILE INSECURE PLAIN_HTTP USERNAME PASSWORD))
vars.oras            := RUNTIME HELP ARGS REGISTRY_TIMEOUT DOCKER_CONFIG
vars.bench           := RUNTIME NO_COLOR HELP PART N RUNS FLEET_RUNS SCALE SKILL AB_N BENCH_TOOLS
vars.bench-tools     := BENCH_TOOLS
vars.go-tools        :=
vars.validators      := RUNTIME HELP
vars.setup           := RUNTIME
vars.clean           := RUNTIME
vars.test-tools      := TEST_TOOLS
vars.test            := TESTS TEST_TOOLS
vars.test-node       := TESTS TEST_TOOLS
vars.test-deno       := TESTS TEST_TOOLS
TARGETS := help setup registry registry-stop registry-status reset push list manifest pull verify copy summary \
  walkthrough untag doctor discover serve publish diff versions keygen sign \
  packages run agents stop logs upgrade rollback ask phase5 login logout mirror oras bench validators \
  test test-node test-deno test-tools go-tools bench-tools clean
KNOWN := $(sort $(foreach target,$(TARGETS),$(vars.$(target))))
vars.help := $(KNOWN)

# A value given on the command line is refused before anything runs when it is empty, when no
# target reads it ("did you mean …?"), or when none of the goals does: nothing silently falls
# back to a default. `make walkthrough` hands its values to its steps in their environment.
given := $(foreach name,$(.VARIABLES),$(if $(filter command,$(firstword $(origin $(name)))),$(name)))
target_goals := $(filter $(TARGETS),$(or $(MAKECMDGOALS),help))

# $(call closest,WORD,NAMES): the one of NAMES that WORD most likely misspells (at most two
# letters off, or its start; any case), or nothing; awk counts the edits (the Levenshtein distance).
closest_awk := BEGIN { word = toupper(word) } \
  { name = toupper($$0); n = length(name); m = length(word); \
    for (j = 0; j <= m; j++) d[0, j] = j; \
    for (i = 1; i <= n; i++) { \
      d[i, 0] = i; \
      for (j = 1; j <= m; j++) { \
        edits = d[i-1, j-1] + (substr(name, i, 1) != substr(word, j, 1)); \
        if (d[i-1, j] + 1 < edits) edits = d[i-1, j] + 1; \
        if (d[i, j-1] + 1 < edits) edits = d[i, j-1] + 1; \
        d[i, j] = edits } } \
    edits = index(name, word) == 1 && d[n, m] > 1 ? 1 : d[n, m]; \
    if (edits <= 2 && (best == "" || edits < best)) { best = edits; found = $$0 } } \
  END { if (found != "") print found }
closest = $(shell printf '%s\n' $(2) | awk -v word='$(subst ',,$(1))' '$(closest_awk)')
did_you_mean = $(if $(call closest,$(1),$(2)),; did you mean $(call closest,$(1),$(2))?)
comma := ,
listed = $(subst $() ,$(comma) ,$(strip $(1)))
readers = $(foreach target,$(filter-out help walkthrough,$(TARGETS)),$(if $(filter $(1),$(vars.$(target))),$(target)))

$(foreach name,$(given),$(if $(value $(name)),,\
  $(error $(name) is empty: give it a value, or leave it out to use its default)))
$(foreach name,$(filter-out $(KNOWN),$(given)),\
  $(error unknown variable $(name)$(call did_you_mean,$(name),$(KNOWN)) (make help lists the variables)))
goal_vars := $(sort $(foreach goal,$(target_goals),$(vars.$(goal))))
$(foreach name,$(if $(target_goals),$(filter-out $(goal_vars),$(given))),$(error make $(target_goals) ignores $(name), \
  which is for make $(call listed,$(call readers,$(name)))$(call did_you_mean,$(name),$(goal_vars)) (nothing was run)))

# A value is text, never code. Make would expand $(…) in a value from the command line or the
# environment, and a recipe that pasted it into a command would hand `…` and $(…) to the shell.
# So every such value is taken literally and exported (which an override would otherwise stop),
# and recipes read values only from their environment ("$$REGISTRY"), which the scripts then validate.
defined = $(foreach name,$(1),$(if $(filter undefined,$(origin $(name))),,$(name)))
literal_values := $(call defined,$(sort $(KNOWN) $(given)))
$(foreach name,$(literal_values),$(eval override $(name) := $$(value $(name))))
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
export DENO V8_FLAGS TESTS TEST_TOOLS BENCH_TOOLS

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

.PHONY: $(TARGETS)

# A goal no rule makes (make pushh): refused, with the target it most likely misspells. A file
# that has no rule (package.json) is just there.
.DEFAULT:
	$(if $(wildcard $@),@:,@echo "unknown target $@$(call did_you_mean,$@,$(TARGETS)) (make help lists the targets)" >&2; exit 2)

help:
	@echo "make TARGET [VARIABLE=value …]; a line per target:"
	@echo "  walkthrough      all of Phase 3: registry, push, list, manifest, pull, verify, copy, summary"
	@echo "  registry         start a registry at REGISTRY, or use the one that answers there"
	@echo "  registry-status  say what answers at REGISTRY"
	@echo "  registry-stop    stop the registry make registry started at REGISTRY (its data stays)"
	@echo "  push             validate the cards in CARDS_DIR, push each as REGISTRY/agents/<agent>:TAG"
	@echo "  list             the registry's repositories and each agent's tags"
	@echo "  manifest         each agent's manifest and digest"
	@echo "  pull             pull each card back into OUT_DIR"
	@echo "  verify           prove each pulled card is the one pushed, and record that in the registry"
	@echo "  copy             copy each agent's TAG to TO_TAG"
	@echo "  summary          every agent's TAG and TO_TAG with their digests"
	@echo "  untag            remove TAG of each agent in AGENTS (says what, asks unless YES=1)"
	@echo "  reset            empty the registry make registry started at REGISTRY (says what, asks unless YES=1)"
	@echo "  clean            stop every registry make registry started; remove tmp/ (their data) and dist/"
	@echo "  discover         find agent cards: SKILL, NAME, DISCOVER_TAG; REFRESH=1 rebuilds the index"
	@echo "  serve            the discovery service and page on SERVE_ADDR"
	@echo "  publish          publish the card CARD under TAG (FORCE=1 replaces a different one)"
	@echo "  diff             what changed in each agent's card between TAG and TO_TAG"
	@echo "  versions         every tag of each agent, with card versions, digests, verified status"
	@echo "  keygen           make a key pair KEY (ALG) and trust it for REGISTRY or SCOPE in TRUST_STORE"
	@echo "  sign             sign the card CARD with KEY, in its file"
	@echo "  packages         publish each agent's card and code as one package, under TAG, its card signed with KEY"
	@echo "  run              pull AGENT's package TAG, check its signature (VERIFY=require by default), start it (PORT)"
	@echo "  agents           the agents make run started, and their health (RESTART=1 starts the dead again)"
	@echo "  stop             stop AGENT"
	@echo "  logs             what AGENT printed"
	@echo "  upgrade          move AGENT to the tag TO, rolled back if it does not become healthy"
	@echo "  rollback         move AGENT back to the version it ran before"
	@echo "  ask              send AGENT the task INPUT (STREAM=1 as it comes; ANSWER=file keeps the answer)"
	@echo "  phase5           all of Phase 5: keygen, packages, run, agents, ask, upgrade, rollback (PORTS, KEY)"
	@echo "  login, logout    store or erase credentials for REGISTRY"
	@echo "  mirror           copy every agent repository from FROM to TO"
	@echo "  doctor           is this machine ready for Phase 3?"
	@echo "  oras             the oras CLI without oras: make oras ARGS='repo ls localhost:5000'"
	@echo "  bench            time the steps against baselines (make bench HELP=1)"
	@echo "  validators       compile fixtures/schemas/ into lib/generated/"
	@echo "  setup            install the npm dependencies when package.json changed"
	@echo "  test             the test suite under Node, then under Deno"
	@echo "  test-node        the test suite under Node alone"
	@echo "  test-deno        the test suite under Deno alone"
	@echo "  test-tools       install the programs the tests start (TEST_TOOLS)"
	@echo "  go-tools         build the real oras, crane and the referrers registry with Go into tmp/tools/bin"
	@echo "  bench-tools      install the programs make bench starts (BENCH_TOOLS)"
	@echo "  help             this list"
	@echo ""
	@printf 'Variables (docs/options.md): REGISTRY=%s AGENTS=%s TAG=%s TO_TAG=%s\n' "$$REGISTRY" "$$AGENTS" "$$TAG" "$$TO_TAG"
	@printf '  CARDS_DIR=%s OUT_DIR=%s RUNTIME=%s (node|deno)\n' "$$CARDS_DIR" "$$OUT_DIR" "$$RUNTIME"
	@echo "  yes or no (1/true/yes, 0/false/no): PAUSE (presenter mode) HELP JSON YES FORCE REFRESH CRAWL INDEX_ONLY RESTART STREAM"
	@echo "  reaching REGISTRY: PLAIN_HTTP REGISTRY_CA_FILE REGISTRY_INSECURE REGISTRY_USERNAME REGISTRY_PASSWORD"
	@echo "    DOCKER_CONFIG REGISTRY_TIMEOUT ORAS_BACKEND (auto|oras|builtin)"
	@echo "  mirror: FROM TO, each side's FROM_CA_FILE FROM_INSECURE FROM_PLAIN_HTTP FROM_USERNAME FROM_PASSWORD"
	@echo "    TO_CA_FILE TO_INSECURE TO_PLAIN_HTTP TO_USERNAME TO_PASSWORD"
	@echo "  SOURCE_DATE_EPOCH (the created time push and publish stamp: seconds, or now) NO_COLOR DISCOVERY_CACHE"
	@echo "  discovery: SKILL NAME DISCOVER_TAG SERVE_ADDR CARD; oras: ARGS; bench: PART N RUNS FLEET_RUNS SCALE AB_N BENCH_TOOLS"
	@echo "  trust: KEY CERT ALG SCOPE VERIFY (off|if-present|require; if-present by default, require where agents start) TRUST_STORE"
	@echo "  Phase 5: AGENT TO PORT PORTS AGENTS_DIR WORKSPACE HEALTH_TIMEOUT RESTART INPUT STREAM ANSWER"
	@echo "  tests: TESTS TEST_TOOLS"

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
reset: setup
	@$(call step,registry) reset

push list manifest pull verify copy summary untag doctor walkthrough: setup
	@$(call step,$@)

# Phase 4 and 5 (docs/discovery.md): make discover SKILL=create_plan, make serve,
# make publish CARD=path TAG=v3, make diff AGENTS=plan TAG=v1 TO_TAG=v2, make versions AGENTS=plan.
discover serve publish diff versions: setup
	@$(call step,$@)

# Trust (docs/trust.md): make keygen KEY=keys/publisher.key.pem makes a key pair and trusts it
# for REGISTRY (or SCOPE); make sign CARD=path KEY=path signs a card; push and publish sign with
# KEY (and attach a Notary Project signature with CERT); pull, verify, publish, discover, versions, serve apply VERIFY.
keygen sign: setup
	@$(call step,$@)

# Phase 5, agent lifecycle (docs/phase5.md): make packages KEY=… publishes each agent's card (signed)
# and code as one artifact; make run AGENT=plan TAG=v1 pulls, checks and starts it; agents, stop, logs, upgrade
# AGENT=plan TO=v2, rollback, ask AGENT=plan INPUT='{…}'; make phase5 runs them all.
packages run agents stop logs upgrade rollback ask phase5: setup
	@$(call step,$@)

# Real registries (docs/real-registries.md): make login REGISTRY=host:port
# REGISTRY_USERNAME=me, the password on stdin or in REGISTRY_PASSWORD; make logout; and
# make mirror FROM=host:port TO=host:port, each side with its own FROM_…/TO_… settings.
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

# Quiet: a dot per test, each failure in full, and the counts last (tests/reporter.mjs for Node,
# whose own reporters end without them; Deno's dot reporter ends with its summary line, but puts
# the dot of each node:test test on a line of its own, which the awk joins).
test-node: setup test-tools
	node --import tsx --test --test-reporter=./tests/reporter.mjs $$TESTS

join_dots := /^(\033\[[0-9;]*m)*\.(\033\[[0-9;]*m)*\r?$$/ { printf "."; dots = 1; next } { if (dots) print ""; dots = 0; print } END { if (dots) print "" }
test-deno: setup test-tools
	@echo '"$$DENO" test -A --reporter=dot $$TESTS'; status=$$(mktemp); \
	{ "$$DENO" test -A --reporter=dot $$TESTS; echo $$? > "$$status"; } | awk '$(join_dots)'; \
	code=$$(cat "$$status"); rm -f "$$status"; exit $$code

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

# Stops every agent `make run` started and every registry `make registry` started, at any address, before their state goes.
clean: setup
	-@$(call step,stop) --all
	-@$(call step,registry) stop-all
	@echo "Removing tmp/ (every registry's data and log, pulled cards, the discovery cache, bench results) and dist/ (Node's bundles)"
	@rm -rf tmp dist
