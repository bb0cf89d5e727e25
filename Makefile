# The two commands of the README: `make demo` and `make test`.
GO ?= go
FUZZTIME ?= 8s

.PHONY: build demo test fuzz bench soak fixtures duckdb-check clean

build:
	$(GO) build -o bin/ ./cmd/...

# record, replay against the demo API on loopback, analyze: about a minute
# (2.5 the first time: module downloads, a full build).
demo:
	scripts/demo.sh

# gofmt, go vet, every test (race detector on), then each fuzz target for
# FUZZTIME. What .ci/run runs. About 8-9 minutes on 2 cores (14 the first
# time: it compiles everything three times); as root, it first installs
# the missing commands some tests need (gcc, curl, tcpdump, chromium).
test:
	scripts/test.sh

fuzz:
	FUZZTIME=5m scripts/test.sh fuzz

# Every benchmark: record vs tshark (needs root: tcpdump), live capture vs
# tcpdump, replay vs Vegeta and wrk, analyze vs DuckDB, shard processes,
# mix fidelity, stateful replay against a fresh demo API.
bench:
	bench/record-vs-tshark.sh
	bench/live-vs-tcpdump.sh
	bench/replay-vs-vegeta.sh
	bench/analyze-vs-duckdb.sh
	bench/shards.sh
	bench/mix-fidelity.sh
	bench/correlate.sh
	bench/timeline.sh

# record + replay + analyze against the demo API for SOAK (10m), with each
# process's memory over time.
soak:
	scripts/soak.sh

# Remakes testdata/pcap and testdata/golden from real clients and servers.
fixtures:
	scripts/make-fixtures.sh

# Reads a trace with DuckDB (npm @duckdb/node-api).
duckdb-check:
	scripts/duckdb-check.sh

clean:
	rm -rf bin traces bench/out demo-out soak-out
