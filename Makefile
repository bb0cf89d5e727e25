# The two commands of the README: `make demo` and `make test`.
GO ?= go
FUZZTIME ?= 10s

.PHONY: build demo test fuzz bench fixtures duckdb-check clean

build:
	$(GO) build -o bin/ ./cmd/...

# Records the sample capture (curl, a pipelining client and a Go server on
# loopback) into traces/go-curl.parquet and prints the summary.
demo: build
	bin/record --pcap testdata/pcap/go-curl.pcap -o traces/

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
	rm -rf bin traces bench/out
