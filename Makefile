# herald's everyday commands. `make test` is the one CI runs.
GO ?= go

.PHONY: run test build vet fmt bench fuzz compare chaos release cross

run: ## install nothing, just run the server with the embedded defaults
	$(GO) run ./cmd/herald

build:
	$(GO) build -o herald ./cmd/herald
	$(GO) build -o herald-load ./cmd/herald-load

# VERSION is stamped into the binaries (herald --version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RELEASE_TARGETS = windows/amd64 darwin/arm64 linux/amd64 linux/arm64

release: ## herald for every release target, into dist/
	@mkdir -p dist
	@for t in $(RELEASE_TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  out=dist/herald-$(VERSION)-$$os-$$arch$$ext; echo "== $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/herald || exit 1; \
	done

cross: ## what CI checks for the other systems: build and vet (tests included) for Windows, macOS and 32-bit Linux (a Raspberry Pi), and link every Windows test binary
	GOOS=windows $(GO) build ./...
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=linux GOARCH=arm $(GO) vet ./...
	@for pkg in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do \
	  GOOS=windows $(GO) test -c -o /dev/null $$pkg || exit 1; \
	done

# The suite runs twice: under the race detector, and at full speed, since
# a bound that holds only because -race slows herald down is a bug too
# (the bolt checkpoint's memory bound was one).
test: node_modules/.package-lock.json ## the whole suite: Go (race detector, then at full speed) + the official JS client
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./...

# npm ci only when the lock file changed since the last install.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: ## microbenchmarks of the hot path, allocations included
	$(GO) test -run '^$$' -bench . -benchmem ./rules ./router ./egress/... ./ingress/...

# Each target fuzzes for FUZZTIME with minimisation off (-fuzzminimizetime 0),
# so the time goes to executions, not to shrinking the seed corpus; one line
# per target with its executions. A failure prints go test's report and stops.
FUZZTIME ?= 10s
fuzz: ## every fuzz target for FUZZTIME each, with executions per target
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
	    execs=$$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1 | cut -d' ' -f2); \
	    printf '%-55s %-22s %12s execs\n' "$$pkg" "$$f" "$${execs:-?}"; \
	  done; \
	done

compare: ## herald against the official Node socket.io server, side by side
	bash bench/compare.sh

chaos: ## three nodes on Redis; a node killed, Redis killed and restarted (needs redis-server)
	$(GO) build -o bench/.herald-chaos ./cmd/herald
	HERALD=bench/.herald-chaos node bench/chaos.js && HERALD=bench/.herald-chaos CHAOS_REDIS_KEEP=1 node bench/chaos.js; s=$$?; rm -f bench/.herald-chaos; exit $$s

chaos-stall: ## the same with Redis frozen instead
	$(GO) build -o bench/.herald-chaos ./cmd/herald
	HERALD=bench/.herald-chaos CHAOS_REDIS_STALL=1 node bench/chaos.js; s=$$?; rm -f bench/.herald-chaos; exit $$s
