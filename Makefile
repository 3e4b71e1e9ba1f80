# isolated-workers for Go. Two commands matter: `make demo` and `make test`.
GO      ?= go
BIN     := bin
FUZZTIME ?= 30s
# Packages with fuzz targets, and their targets (package:Target).
FUZZ_TARGETS := \
	./internal/frame:FuzzFrameReader \
	./internal/frame:FuzzFrameResync \
	./plugin:FuzzHostStreams \
	./internal/wire:FuzzJSONHeader \
	./internal/wire:FuzzCodecRead \
	./internal/wire:FuzzCodecResync \
	./internal/wire:FuzzReadAck \
	./internal/handshakewire:FuzzParseEnv \
	./internal/handshakewire:FuzzHello \
	./internal/handshakewire:FuzzParseReady \
	./shared:FuzzMsgPackEscape \
	./shared/faults:FuzzParseClass \
	./host:FuzzHostileWorkerSequence

# Examples that each show one configuration feature (a host in examples/NAME,
# its worker in examples/NAME/worker); each has a target example-NAME, and so
# do basic-ping, pool and jobs.
EXAMPLES := bidirectional middleware serializers reattach reconnect logging tracing stream

.PHONY: demo demo-serve examples $(addprefix example-,$(EXAMPLES) basic-ping jobs pool) \
	test test-unit test-bench-smoke test-windows cross fuzz fuzz-short bench lint workers clean

## workers: build every example's host and worker binary into $(BIN)
## (bin/NAME and bin/NAME-worker) without running them.
workers:
	@BIN=$(BIN) GO=$(GO) DEMO_RUN=0 bash scripts/demo.sh

## demo: build every example (hosts in one go build, then the workers) and run
## each built binary: basic-ping, the configuration examples, tracing, pool, jobs;
## ends with a one-screen summary (ok or failed, time); exits when done.
demo:
	@BIN=$(BIN) GO=$(GO) bash scripts/demo.sh

## examples: build and run the configuration examples only.
examples:
	@BIN=$(BIN) GO=$(GO) bash scripts/demo.sh $(EXAMPLES)

## example-NAME: build one example's host and worker and run it (NAME in
## EXAMPLES, or basic-ping, pool or jobs).
$(addprefix example-,$(EXAMPLES) basic-ping jobs pool): example-%:
	@BIN=$(BIN) GO=$(GO) bash scripts/demo.sh $*

## demo-serve: the jobs demo, keeping its status page up for a person to watch.
demo-serve:
	@BIN=$(BIN) GO=$(GO) DEMO_RUN=0 bash scripts/demo.sh jobs
	$(BIN)/jobs -worker $(BIN)/jobs-worker -addr 127.0.0.1:8080 -pace 300ms -linger 1h

## test: vet, the race-enabled suite with leak checks, short fuzzing, the benchmark smoke test,
## the cross-compiled vet and test build for Windows, macOS and FreeBSD, and the Windows
## test binaries that need no Unix socket, under Wine.
test: lint cross test-unit fuzz-short test-bench-smoke test-windows

# Platforms every package must vet and build its tests for.
CROSS_PLATFORMS := windows/amd64 darwin/arm64 freebsd/amd64

# Windows test binaries run under Wine by test-windows (package, or
# package:regexp for -test.run). Wine 8.0 has no AF_UNIX sockets (socket()
# fails with WSAEAFNOSUPPORT), so packages whose tests talk over a socket
# (host, plugin, internal/wire, test/e2e) run only their tests that need
# none: in host, the per-OS process handling (ready handle, Job object).
WINE_TESTS := \
	./handshake ./internal/handshakewire ./internal/metalog ./internal/frame ./internal/proc ./internal/ratelog \
	./shared ./shared/action ./shared/faults ./shared/retry ./shared/retry/retrytest ./shared/status \
	'./host:^(TestReadyPipeIsAnInheritedHandle|TestKillGroupEndsWorkerTree|TestWorkerExitEndsItsTree|TestLine|TestConfig)'

## cross: go vet, go build and a test build of every package for each of CROSS_PLATFORMS
## (the test binaries in one go test -c invocation per platform: one parallel build).
cross:
	@set -e; for p in $(CROSS_PLATFORMS); do \
		os=$${p%%/*}; arch=$${p##*/}; \
		echo "cross $$os/$$arch: go vet, go build, go test -c"; \
		GOOS=$$os GOARCH=$$arch $(GO) vet ./...; \
		GOOS=$$os GOARCH=$$arch $(GO) build ./...; \
		dir=$$(mktemp -d); \
		GOOS=$$os GOARCH=$$arch $(GO) test -c -o $$dir/ \
			$$(GOOS=$$os GOARCH=$$arch $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...) \
			|| { rm -rf $$dir; exit 1; }; \
		rm -rf $$dir; \
	done

# test-unit installs Chromium first if it is missing (scripts/ensure-chromium.sh:
# apt-get as root), then runs the suite with IW_BROWSER_TESTS=1, under which the
# browser tests fail rather than skip without Chromium, and says which of them ran.
## test-windows: build the Windows test binaries of WINE_TESTS and run them
## under Wine (scripts/wine/setup.sh installs Wine and a runtime shim).
test-windows:
	@prefix=$$(sh scripts/wine/setup.sh) || exit 1; \
	WINEPREFIX=$$prefix wineserver -p; WINEPREFIX=$$prefix WINEDEBUG=-all wine cmd /c exit 0 >/dev/null 2>&1; \
	dir=$$(mktemp -d); rc=0; \
	for t in $(WINE_TESTS); do \
		pkg=$${t%%:*}; run=; case $$t in *:*) run=$${t#*:};; esac; \
		exe=$$dir/$$(echo $$pkg | tr -c 'a-zA-Z0-9\n' _).test.exe; \
		GOOS=windows GOARCH=amd64 $(GO) test -c -o $$exe $$pkg || { rc=1; continue; }; \
		[ -f $$exe ] || continue; \
		if out=$$(cd $$pkg && WINEPREFIX=$$prefix WINEDEBUG=-all timeout 300 wine $$exe -test.count=1 $${run:+-test.run "$$run"} 2>&1); then \
			echo "ok   windows/amd64 (wine) $$pkg $${run:+-run '$$run'}"; \
		else echo "$$out"; echo "FAIL windows/amd64 (wine) $$pkg"; rc=1; fi; \
	done; \
	WINEPREFIX=$$prefix wineserver -k 2>/dev/null; rm -rf $$dir; exit $$rc

test-unit:
	@sh scripts/ensure-chromium.sh >/dev/null || echo "test-unit: no chromium (see above); the browser tests will FAIL"
	@report=$$(mktemp); \
	echo "IW_BROWSER_TESTS=1 $(GO) test -race -count=1 -timeout 8m ./..."; \
	IW_BROWSER_TESTS=1 IW_BROWSER_REPORT=$$report $(GO) test -race -count=1 -timeout 8m ./...; rc=$$?; \
	if [ -s $$report ]; then echo "browser tests ran:"; sed 's/^/  /' $$report; \
	else echo "browser tests did NOT run"; fi; \
	rm -f $$report; exit $$rc

test-bench-smoke:
	cd test/bench && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## fuzz: run every fuzz target for FUZZTIME (default 30s).
fuzz:
	@bash scripts/fuzz.sh $(GO) $(FUZZTIME) $(FUZZ_TARGETS)

## bench: every workload against go-plugin (net/rpc, gRPC) and a raw socket (yamux and lock-step),
## one table of medians over 5 runs with their spread (BENCH_FLAGS=-quick: 3 runs, about a minute).
bench:
	cd test/bench && $(GO) run ./cmd/sidebyside $(BENCH_FLAGS)

## lint: formatting, vet, and the exported API against the last v* tag
## (scripts/apidiff.sh; API_BREAK=ok accepts an intended incompatible change).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@GO=$(GO) bash scripts/apidiff.sh

clean:
	rm -rf $(BIN)
