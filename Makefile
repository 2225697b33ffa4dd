# Seedpod. The two commands that matter are in README.md: `make run`, `make test`.
GO ?= go
DESKTOP_TAGS := desktop,production,webkit2_41
# The version stamped into the binary: 0.1.0-dev+<commit>[.dirty].
VERSION ?= $(shell r=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	echo "0.1.0-dev+$$r$$(git diff --quiet HEAD -- 2>/dev/null || echo .dirty)" || echo 0.1.0-dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test bench bench-ui bench-1m sync-long fuzz build build-desktop frontend dev smoke e2e clean

## run: install what is missing, build and start Seedpod (window, or serve without a display)
run:
	@scripts/run.sh $(ARGS)

## test: install what the tests need and run them all (what CI runs)
test:
	@scripts/test.sh

## bench: the Go benchmarks (the scale ones on a pod seeded with 100k posts, 1k contacts)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 -timeout 60m ./...

## bench-ui: the UI in Chromium against a pod seeded with 100k posts: first stream paint, long tasks while scrolling 1,000 posts, JavaScript size (after make build)
bench-ui:
	cd e2e && node bench-ui.mjs

## bench-1m: the scale benchmarks (stream, search, seeding rate, serve RSS) at 1M posts
bench-1m:
	SEEDPOD_BENCH_POSTS=1000000 $(GO) test -run '^$$' -bench 'Scale|ServeRSS' -benchtime 200x -timeout 180m ./pod/web .

## sync-long: the device-sync convergence property test with many more seeds (make test runs 200)
sync-long:
	SEEDPOD_SYNC_SEEDS=$${SEEDPOD_SYNC_SEEDS:-5000} $(GO) test -run 'Converge|Property' -count=1 -timeout 180m ./pod/ ./sync/session/

## fuzz: every fuzz target for FUZZTIME each (default 120s; make test runs them for 5s)
fuzz:
	FUZZTIME=$${FUZZTIME:-120s} scripts/fuzz.sh

## frontend: build the UI into frontend/dist/app (embedded by the Go build)
frontend:
	@scripts/deps.sh serve
	npm --prefix frontend run build

## build: bin/seedpod, every mode but the window (no cgo)
build: frontend
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/seedpod .

## build-desktop: build/bin/seedpod with the desktop window (GTK, WebKitGTK 4.1)
build-desktop: frontend
	$(GO) build -trimpath -tags $(DESKTOP_TAGS) -ldflags "-w -s $(LDFLAGS)" -o build/bin/seedpod .

## e2e: browser tests against a real `seedpod serve` (after make build)
e2e:
	npm --prefix e2e test

## smoke: the desktop window under Xvfb (after make build-desktop)
smoke:
	scripts/desktop-smoke.sh

## dev: live-reloading desktop app through the pinned Wails CLI
dev:
	@scripts/deps.sh desktop
	$(GO) tool -modfile=tools/go.mod wails dev -tags webkit2_41 -skipbindings

clean:
	rm -rf bin build/bin build/smoke frontend/dist/app e2e/screenshots
