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

# Examples that each show one configuration feature (a host in examples/NAME,
# its worker in examples/NAME/worker); each has a target example-NAME.
EXAMPLES := middleware serializers reattach reconnect logging

.PHONY: demo demo-serve examples $(addprefix example-,$(EXAMPLES)) \
	test test-unit test-bench-smoke fuzz fuzz-short bench lint workers clean

## workers: build every example's worker binary into $(BIN).
workers:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/basic-ping-worker ./examples/basic-ping/worker
	$(GO) build -o $(BIN)/jobs-worker ./examples/jobs/worker
	$(GO) build -o $(BIN)/middleware-worker ./examples/middleware/worker
	$(GO) build -o $(BIN)/serializers-worker ./examples/serializers/worker
	$(GO) build -o $(BIN)/reattach-worker ./examples/reattach/worker
	$(GO) build -o $(BIN)/reconnect-worker ./examples/reconnect/worker
	$(GO) build -o $(BIN)/logging-worker ./examples/logging/worker

# The configuration examples, in order, each under a heading; shared by
# `examples` and `demo`. Together they take about 5 s.
define run_examples
	@echo "== middleware: host and worker chains, their order, trace headers, a failing middleware on each side =="
	$(GO) run ./examples/middleware -worker $(BIN)/middleware-worker
	@echo
	@echo "== serializers: MessagePack, a custom serializer, terminator, name-collision and mismatch errors =="
	$(GO) run ./examples/serializers -worker $(BIN)/serializers-worker
	@echo
	@echo "== reattach: a detached worker outlives its host; a second host attaches and gets its logs =="
	$(GO) run ./examples/reattach -worker $(BIN)/reattach-worker
	@echo
	@echo "== reconnect: Disconnect and Reconnect, the dial retry policy, HostConnectTimeout, Shutdown vs KeepAlive =="
	$(GO) run ./examples/reconnect -worker $(BIN)/reconnect-worker
	@echo
	@echo "== logging: worker records in a log/slog logger, LogLevel, call timeouts per message =="
	$(GO) run ./examples/logging -worker $(BIN)/logging-worker
endef

## examples: build the workers and run the five configuration examples; exits when done.
examples: workers
	$(run_examples)

## example-NAME: build one example's worker and run its host (NAME in EXAMPLES).
$(addprefix example-,$(EXAMPLES)): example-%:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/$*-worker ./examples/$*/worker
	$(GO) run ./examples/$* -worker $(BIN)/$*-worker

## demo: build the example workers, run the basic-ping host, the configuration
## examples (middleware, serializers, reattach, reconnect, logging), then the
## jobs host (pipelines, retries, dead letters, live status page); exits when done.
demo: workers
	@echo "== basic-ping: launch, typed calls, raw bytes, errors, cancel, panic, crash =="
	$(GO) run ./examples/basic-ping -worker $(BIN)/basic-ping-worker
	@echo
	$(run_examples)
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

## lint: formatting, vet, and the exported API against the last v* tag
## (scripts/apidiff.sh; API_BREAK=ok accepts an intended incompatible change).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@GO=$(GO) bash scripts/apidiff.sh

clean:
	rm -rf $(BIN)
