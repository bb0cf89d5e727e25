# The two commands of the README: `make demo` and `make test`.
GO ?= go
FUZZTIME ?= 10s

.PHONY: build demo test fuzz bench fixtures duckdb-check clean

build:
	$(GO) build -o bin/ ./cmd/...

# record, then replay against the demo API on loopback: about a minute.
demo:
	scripts/demo.sh

# gofmt, go vet, every test (race detector on), then each fuzz target for
# FUZZTIME. What .ci/run runs.
test:
	scripts/test.sh

fuzz:
	FUZZTIME=5m scripts/test.sh fuzz

# record vs tshark on generated captures (needs root: tcpdump).
bench:
	bench/record-vs-tshark.sh

# Remakes testdata/pcap and testdata/golden from real clients and servers.
fixtures:
	scripts/make-fixtures.sh

# Reads a trace with DuckDB (npm @duckdb/node-api).
duckdb-check:
	scripts/duckdb-check.sh

clean:
	rm -rf bin traces bench/out demo-out
