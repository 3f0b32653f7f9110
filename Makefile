# herald's everyday commands. `make test` is the one CI runs.
GO ?= go

.PHONY: run test build vet fmt bench fuzz compare

run: ## install nothing, just run the server with the embedded defaults
	$(GO) run ./cmd/herald

build:
	$(GO) build -o herald ./cmd/herald
	$(GO) build -o herald-load ./cmd/herald-load

test: node_modules/.package-lock.json ## the whole suite: Go (race detector) + the official JS client
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# npm ci only when the lock file changed since the last install.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: ## microbenchmarks of the hot path, allocations included
	$(GO) test -run '^$$' -bench . -benchmem ./rules ./router ./egress/... ./ingress/...

fuzz: ## a short run of every fuzz target
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

compare: ## herald against the official Node socket.io server, side by side
	bash bench/compare.sh
