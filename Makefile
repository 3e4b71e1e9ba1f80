# isolated-workers for Go. Two commands matter: `make demo` and `make test`.
GO      ?= go
BIN     := bin
FUZZTIME ?= 30s
# Packages with fuzz targets, and their targets (package:Target).
FUZZ_TARGETS := \
	./internal/frame:FuzzFrameReader \
	./internal/wire:FuzzJSONHeader \
	./internal/wire:FuzzCodecRead \
	./handshake:FuzzParseEnv \
	./handshake:FuzzHello \
	./handshake:FuzzParseReady \
	./shared:FuzzMsgPackEscape \
	./shared/faults:FuzzParseClass

.PHONY: demo demo-serve test test-unit test-bench-smoke fuzz fuzz-short bench lint workers clean

workers:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/basic-ping-worker ./examples/basic-ping/worker
	$(GO) build -o $(BIN)/jobs-worker ./examples/jobs/worker

## demo: build the example workers, run the basic-ping host, then the jobs host
## (pipelines, retries, dead letters, live status page); exits when done.
demo: workers
	@echo "== basic-ping: launch, typed calls, raw bytes, errors, cancel, panic, crash =="
	$(GO) run ./examples/basic-ping -worker $(BIN)/basic-ping-worker
	@echo
	@echo "== jobs: action pipelines in workers, live status over WebSocket =="
	$(GO) run ./examples/jobs -worker $(BIN)/jobs-worker

## demo-serve: the jobs demo, keeping its status page up for a person to watch.
demo-serve: workers
	$(GO) run ./examples/jobs -worker $(BIN)/jobs-worker -addr 127.0.0.1:8080 -pace 300ms -linger 1h

## test: vet, the race-enabled suite with leak checks, short fuzzing, the benchmark smoke test.
test: lint test-unit fuzz-short test-bench-smoke

test-unit:
	IW_BROWSER_TESTS=1 $(GO) test -race -count=1 -timeout 8m ./...

test-bench-smoke:
	cd test/bench && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## fuzz: run every fuzz target for FUZZTIME (default 30s).
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: every workload against go-plugin (net/rpc, gRPC) and a raw socket, one run, one table.
bench:
	cd test/bench && $(GO) run ./cmd/sidebyside

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
