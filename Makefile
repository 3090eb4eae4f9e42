# loyaltyhooks — see README.md. Every target works on a fresh clone with Go and redis-server.
GO        ?= go
BIN       ?= bin/loyaltyhooks
PKGS      ?= ./...
STATICCHECK_VERSION ?= v0.8.2
BENCHTIME ?= 2s
# The sender's benchmark runs rounds of a fixed number of deliveries (see sender/bench_test.go).
SENDER_BENCHTIME ?= 10000x
HELM_VERSION ?= v3.22.0
# helm on PATH, else the one `go install` puts in GOPATH/bin (the chart target installs it there).
HELM      ?= $(or $(shell command -v helm 2>/dev/null),$(shell $(GO) env GOPATH)/bin/helm)

.PHONY: all build test chart lint demo bench fmt clean

all: build test lint

build:
	$(GO) build -o $(BIN) ./cmd/loyaltyhooks

## test: every unit, golden and integration test (needs redis-server on PATH; starts its own).
test:
	$(GO) test -count=1 -timeout 15m $(PKGS)
	@$(MAKE) --no-print-directory chart

## chart: helm lint --strict and helm template of charts/loyaltyhooks with every ci/*-values.yaml.
chart: $(HELM)
	@for f in charts/loyaltyhooks/ci/*-values.yaml; do \
		echo "chart: $$f"; \
		$(HELM) lint --strict --quiet charts/loyaltyhooks -f $$f || exit 1; \
		$(HELM) template ci charts/loyaltyhooks -f $$f >/dev/null || exit 1; \
	done

$(HELM):
	$(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

## lint: go vet plus staticcheck.
lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

## demo: the whole system in one process on an embedded broker and Redis, no outside service.
demo:
	$(GO) run ./cmd/loyaltyhooks demo $(DEMO_ARGS)

## bench: the benchmarks whose figures the README quotes.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./processor/...
	$(GO) test -run '^$$' -bench . -benchtime $(SENDER_BENCHTIME) ./sender/...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
