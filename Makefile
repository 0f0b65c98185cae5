# reachgate — see README.md. Two entry points: `make e2e-local` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
REPORTS := $(CURDIR)/reports/out
K8S_VERSION := $(shell awk '$$1=="k8s.io/kubernetes"{print $$2}' lab/kubebin/go.mod)
LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION)))
# Go packages with plain tests: unit tests, and integration tests that need root (they skip
# without root, and fail instead under REACHGATE_REQUIRE_ROOT_TESTS=1, as in CI).
# lab/wan measures emulated round trips to a fraction of a millisecond: it runs alone, after
# the rest, so other packages' labs and builds do not load the CPU under its timings.
GO_PKGS = $$($(GO) list ./... | grep -v /suites/ | grep -v /lab/wan$$)
GINKGO = $(GO) tool ginkgo
SUITE_ENV = REACHGATE_BIN=$(BIN)/reachgate REACHGATE_REPORT_DIR=$(REPORTS)

.PHONY: all build lab-binaries e2e-local e2e-quick preflight-container test test-go bench-e2e bench-lab bench-explain bench-predict bench-api lint clean preflight

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/reachgate ./cmd/reachgate

# kube-apiserver and etcd, built once per pinned version into the cache (about 9 min cold on 2 cores).
lab-binaries: build
	$(BIN)/reachgate lab build

# What the lab and the suites need on the machine, checked in a second before any build:
# root or unprivileged user namespaces (the lab then runs rootless, see lab/rootless), iproute2, util-linux, nftables, nginx with its stream module, and gcloud (suites/gcloud
# drives the lab's GCP API with it). redis-server runs the lab's managed-service hosts: it is
# needed by lab/redis's tests (with redis-cli) in `make test` and `make preflight`, and by
# `make e2e-local` only when a topology of fixtures/topologies has a managed-service host.
# Prints every missing piece and how to get it.
preflight:
	@miss=(); \
	tests=1; if [ "$(strip $(MAKECMDGOALS))" = e2e-local ]; then tests=; fi; \
	suites=; if grep -qsE '^[[:space:]]*role:[[:space:]]*managed-service' fixtures/topologies/*.yaml; then suites=1; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  if [ "$$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" = 1 ]; then \
	    miss+=("user namespaces (not root): AppArmor restricts them; sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run as root"); \
	  elif [ "$$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null)" = 0 ]; then \
	    miss+=("user namespaces (not root): the kernel forbids them; sudo sysctl -w kernel.unprivileged_userns_clone=1, or run as root"); \
	  elif [ "$$(cat /proc/sys/user/max_user_namespaces 2>/dev/null)" = 0 ]; then \
	    miss+=("user namespaces (not root): disabled; sudo sysctl -w user.max_user_namespaces=15000, or run as root"); \
	  elif ! unshare -Urnm --propagation private sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then \
	    miss+=("user namespaces (not root): unshare -Urnm fails on this machine; run as root (sudo make e2e-local)"); \
	  fi; \
	fi; \
	command -v ip >/dev/null || miss+=("ip: apt-get install iproute2"); \
	command -v nsenter >/dev/null || miss+=("nsenter: apt-get install util-linux"); \
	command -v nft >/dev/null || miss+=("nft: apt-get install nftables"); \
	command -v curl >/dev/null || miss+=("curl (the startup script of the VMs the lab's GCP API boots): apt-get install curl"); \
	{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || miss+=("nginx: apt-get install nginx"); \
	[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || miss+=("nginx stream module: apt-get install libnginx-mod-stream"); \
	command -v gcloud >/dev/null || miss+=("gcloud (suites/gcloud): install google-cloud-cli (https://cloud.google.com/sdk/docs/install#deb)"); \
	command -v gke-gcloud-auth-plugin >/dev/null || miss+=("gke-gcloud-auth-plugin (suites/gcloud): apt-get install google-cloud-cli-gke-gcloud-auth-plugin"); \
	if [ -n "$$tests$$suites" ]; then command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || miss+=("redis-server (the lab's managed-service hosts, lab/redis tests): apt-get install redis-server"); fi; \
	if [ -n "$$tests" ]; then command -v redis-cli >/dev/null || miss+=("redis-cli (lab/redis tests): apt-get install redis-tools"); fi; \
	if [ -n "$$tests" ]; then { command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ]; } || miss+=("dockerd (lab/container tests; its engine runs in a namespace of its own): apt-get install docker.io"); fi; \
	if [ -n "$$tests" ]; then { command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ]; } || miss+=("debootstrap (lab/container tests build their base image): apt-get install debootstrap"); fi; \
	if [ $${#miss[@]} -gt 0 ]; then echo "reachgate needs on this machine:"; printf '  - %s\n' "$${miss[@]}"; exit 1; fi

# The container runtime needs only Go and a Docker engine here; the lab's tools are in the image.
preflight-container:
	@miss=(); \
	command -v go >/dev/null || miss+=("go: install Go (https://go.dev/doc/install)"); \
	if command -v docker >/dev/null; then docker info >/dev/null 2>&1 || miss+=("a running Docker engine: start Docker Desktop, colima, OrbStack, or Podman's socket (and set DOCKER_HOST)"); \
	elif [ -z "$$DOCKER_HOST" ] && [ ! -S /var/run/docker.sock ]; then miss+=("a Docker engine: install Docker Desktop, colima, OrbStack or Podman, or set DOCKER_HOST"); fi; \
	if [ $${#miss[@]} -gt 0 ]; then echo "reachgate (container runtime) needs on this machine:"; printf '  - %s\n' "$${miss[@]}"; exit 1; fi

# The suites that must hold on any address plan run again on the second one, alt.yaml (and its
# bgp-export form): suite:topology pairs. They report as <suite>@<topology name>.
MATRIX = baseline:alt ilbproxy:alt bgpexport:alt-bgp-export psa:alt-bgp-export-psa psc:alt-psc dnsendpoint:alt-psc
# Suites run again with the gcp provider, each against a bare lab of its topology: the provider
# builds the GCP side through the lab's API with Google's clients, the suite checks it from the
# VMs' agents, and everything is torn down (zero resources left is part of the teardown).
# SUITE:stand-in plays the third-party cloud with a VPC of the project joined by an HA VPN
# pair, as on Google.
GCP_LAB_SUITES = gcpvpc baseline ilbproxy bgpexport baseline:stand-in
# Where the labs run: local (this machine's network namespaces; rootless when not root) or
# container (one Linux container through Docker, testcontainers-go): the default off Linux,
# or RUNTIME=container / REACHGATE_RUNTIME=container.
RUNTIME ?= $(or $(REACHGATE_RUNTIME),$(if $(filter Linux,$(shell uname -s)),local,container))
# The suite packages `make e2e-local` runs (empty: every one under suites/), e.g.
# SUITES="./suites/baseline ./suites/tls"; the MATRIX and GCP_LAB_SUITES reruns still follow.
SUITES ?=
# `make e2e-quick`: the quick gate, for a change that touches one access path. One run of each
# suite below on its own topology, without the MATRIX and GCP_LAB_SUITES reruns: the problem
# (baseline), both of the article's solutions and their TLS. `make e2e-local` stays the full run.
QUICK_SUITES = ./suites/baseline ./suites/ilbproxy ./suites/bgpexport ./suites/tls
# How many suites run at once: empty for the default (two per core, one per 2 GiB of
# available memory, at most 6); JOBS=1 runs them one after another.
JOBS ?=

# The main job: build everything, run the suites on the local lab side by side (each on its
# own lab; `reachgate e2e` keeps each suite's output together), write reports, tear down.
# Each suite writes its own JUnit and Ginkgo JSON into reports/out; `reachgate report` joins them.
e2e-local: $(if $(filter container,$(RUNTIME)),preflight-container build,preflight lab-binaries)
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	@status=0; $(SUITE_ENV) $(BIN)/reachgate e2e --runtime $(RUNTIME) --bin-dir $(BIN)/suites $(if $(JOBS),--jobs $(JOBS)) --matrix '$(MATRIX)' --gcp-lab-suites '$(GCP_LAB_SUITES)' $(SUITES) || status=$$?; \
	$(BIN)/reachgate lab gc --runtime $(RUNTIME) >/dev/null 2>&1 || true; \
	$(BIN)/reachgate report --in $(REPORTS) || status=1; \
	echo "reports: $(REPORTS)/junit.xml $(REPORTS)/results.json $(REPORTS)/report.html"; exit $$status

e2e-quick:
	@$(MAKE) --no-print-directory e2e-local SUITES='$(QUICK_SUITES)' MATRIX= GCP_LAB_SUITES=

# Prints the wall time of a warm `make e2e-local` over 3 runs (median) with each run's
# per-suite table and how busy the machine was (CPU seconds); RUNS=10 for a longer series
# (it also counts the green runs); TARGET=e2e-quick times the quick gate instead.
# COLD=1 instead runs one `make e2e-local` from nothing: an empty Go build cache, an empty
# lab binaries cache and no bin/ (all in a temporary directory, removed after), printing the
# time of each build step and of the first suite's start, then the whole run's.
RUNS ?= 3
COLD ?=
TARGET ?= e2e-local
bench-e2e:
ifeq ($(COLD),1)
	@tmp=$$(mktemp -d /tmp/reachgate-cold.XXXXXX); trap 'chmod -R u+w $$tmp 2>/dev/null; rm -rf $$tmp' EXIT; \
	echo "cold: empty GOCACHE, REACHGATE_CACHE and BIN under $$tmp; Go module cache kept ($$(go env GOMODCACHE))"; \
	start=$${EPOCHREALTIME/./}; first=; \
	while IFS= read -r line; do \
	  el=$$(( ($${EPOCHREALTIME/./} - start) / 1000000 )); printf '%s\n' "$$line" >>$$tmp/log; \
	  case "$$line" in \
	    *"go build "*|*"lab binaries built"*|*"e2e: built"*|*"e2e: "*"up to date"*|"e2e: "*" suites in "*) echo "  [$$el s] $${line:0:150}";; \
	    "suiterun: start"*) [ -n "$$first" ] || { first=$$el; echo "  [$$el s] $$line"; echo "cold set-up: $$el s to the first suite's start (its lab comes up next, about 10 s)"; };; \
	  esac; \
	done < <(GOCACHE=$$tmp/gocache REACHGATE_CACHE=$$tmp/cache $(MAKE) --no-print-directory e2e-local BIN=$$tmp/bin 2>&1; echo "exit $$?"); \
	rc=$$(tail -1 $$tmp/log | awk '{print $$2}'); \
	echo "make e2e-local (cold): $$(( ($${EPOCHREALTIME/./} - start) / 1000000 )) s in all, exit $$rc; $${first:-no suite started} s to the first suite"; \
	cp $$tmp/log /tmp/reachgate-bench-cold.log; echo "log: /tmp/reachgate-bench-cold.log"; test "$$rc" = 0
else
	@$(MAKE) --no-print-directory lab-binaries >/dev/null
	@green=0; times=(); for i in $$(seq $(RUNS)); do \
	  s=$$(date +%s.%N); $(MAKE) --no-print-directory $(TARGET) >/tmp/reachgate-bench-e2e-$$i.log 2>&1 && green=$$((green+1)); \
	  e=$$(date +%s.%N); t=$$(awk "BEGIN{printf \"%.1f\", $$e-$$s}"); times+=($$t); \
	  echo "run $$i: make $(TARGET) $$t s ($$(grep -c '^e2e: .* suites in' /tmp/reachgate-bench-e2e-$$i.log) summary)"; \
	  sed -n '/^SUITE/,/^e2e: .* suites in/p' /tmp/reachgate-bench-e2e-$$i.log | awk '{print "  " $$1, $$2, $$3}'; \
	  grep -h '^e2e: machine CPU' /tmp/reachgate-bench-e2e-$$i.log | sed 's/^/  /'; \
	done; \
	echo "make $(TARGET) (warm): median $$(printf '%s\n' "$${times[@]}" | sort -n | awk '{a[NR]=$$1} END{print a[int((NR+1)/2)]}') s over $(RUNS) runs; $$green of $(RUNS) green"; \
	test $$green -eq $(RUNS)
endif

# All tests: unit and integration (with -race), then the Ginkgo suites on the lab.
test: preflight lint test-go e2e-local

# suites/harness holds plain Go tests of the harness itself (exit codes, every suite on the
# core-only provider); it provisions labs one after another, so it runs after the other packages
# rather than beside their timing-sensitive integration tests.
test-go: lab-binaries
	REACHGATE_BIN=$(BIN)/reachgate $(GO) test -race -count=1 -timeout=30m $(GO_PKGS)
	REACHGATE_BIN=$(BIN)/reachgate $(GO) test -race -count=1 -timeout=10m ./lab/wan
	REACHGATE_BIN=$(BIN)/reachgate $(GO) test -count=1 -timeout=20m ./suites/harness

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool actionlint .github/workflows/*.yml

# Prints seconds for a warm `lab up` of seed.yaml and a warm `make e2e-local`, and the CPU
# seconds the machine spent on each lab up and down (every core, the lab's daemons included,
# from /proc/stat, in clock ticks): what each lab of a run costs before its first spec.
BUSY_TICKS = awk '/^cpu /{printf "%d", $$2+$$3+$$4+$$7+$$8+$$9}' /proc/stat
bench-lab: lab-binaries
	@$(BIN)/reachgate lab gc >/dev/null 2>&1; hz=$$(getconf CLK_TCK); for i in 1 2 3; do \
	  s=$$(date +%s.%N); c=$$($(BUSY_TICKS)); $(BIN)/reachgate lab up --name bench >/tmp/reachgate-bench.log 2>&1 || { cat /tmp/reachgate-bench.log; exit 1; }; \
	  e=$$(date +%s.%N); u=$$($(BUSY_TICKS)); echo "lab up (seed.yaml, warm) run $$i: $$(awk "BEGIN{printf \"%.2f s, %.2f CPU-s\", $$e-$$s, ($$u-$$c)/$$hz}")"; \
	  s=$$(date +%s.%N); c=$$($(BUSY_TICKS)); $(BIN)/reachgate lab down --name bench >/dev/null 2>&1; e=$$(date +%s.%N); u=$$($(BUSY_TICKS)); \
	  echo "lab down run $$i: $$(awk "BEGIN{printf \"%.2f s, %.2f CPU-s\", $$e-$$s, ($$u-$$c)/$$hz}")"; done
	@s=$$(date +%s.%N); $(MAKE) --no-print-directory e2e-local >/tmp/reachgate-bench-e2e.log 2>&1 || { tail -50 /tmp/reachgate-bench-e2e.log; exit 1; }; \
	e=$$(date +%s.%N); echo "make e2e-local (warm): $$(awk "BEGIN{printf \"%.2f\", $$e-$$s}") s"

# Prints the time of 1,000 sequential GET /version from tp-vm through the hardened ilb-proxy
# (unimpaired lab link; reports go to reports/out/bench so the e2e reports stay as they are).
bench-probe: lab-binaries
	@REACHGATE_BIN=$(BIN)/reachgate REACHGATE_REPORT_DIR=$(REPORTS)/bench $(GINKGO) -v --label-filter='bench' ./suites/tls 2>&1 | \
	  tee /tmp/reachgate-bench-probe.log | grep -A2 'bench: 1000 sequential' ; test $${PIPESTATUS[0]} -eq 0

clean:
	-$(BIN)/reachgate lab gc
	rm -rf $(BIN) $(REPORTS)

# Prints what the lab's GCP API adds to a bgp-export Apply over the in-process cloud (target
# < 10 %): interleaved rounds on a lab of bgp-export.yaml, brought up and removed here.
bench-api: lab-binaries
	@$(BIN)/reachgate lab up --name bench-api -f fixtures/topologies/bgp-export.yaml >/tmp/reachgate-bench-api.log 2>&1 || { cat /tmp/reachgate-bench-api.log; exit 1; }
	@status=0; $(BIN)/reachgate bench bgp-export-api --name bench-api --rounds 7 2>>/tmp/reachgate-bench-api.log || status=$$?; \
	$(BIN)/reachgate lab down --name bench-api >/dev/null 2>&1; exit $$status

# Prints the time of `lab explain` on seed.yaml (target < 50 ms): the in-process benchmark
# (parse + routes + trace) and the whole CLI run.
bench-explain: build
	@$(GO) test -run '^$$' -bench ExplainSeed -benchtime 200x ./framework/netmodel | awk '/^BenchmarkExplainSeed/{printf "explain in-process (parse+compute+trace): %.2f ms\n", $$3/1e6}'
	@s=$$(date +%s%N); $(BIN)/reachgate lab explain -f fixtures/topologies/seed.yaml --from tp-vm --to 192.168.32.34:443 >/dev/null; \
	e=$$(date +%s%N); echo "reachgate lab explain (whole CLI run): $$(( (e-s)/1000000 )) ms"

# Prints the time of `gate predict` on a plan of 50 resource changes against the seed
# topology's model (target < 200 ms): apply, parse and compute before and after, trace the flows.
bench-predict:
	@set -o pipefail; $(GO) test -run '^$$' -bench Predict50 -benchtime 20x ./framework/gate | awk '/^BenchmarkPredict50/{printf "gate predict, 50 resource changes: %.2f ms\n", $$3/1e6}'
