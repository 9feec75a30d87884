# The README's two commands are `make example` and `make test`.
GO ?= go

.PHONY: setup example test soak pgcrash failover bench bench-sink bench-micro fuzz vet

# setup installs what a fresh Debian machine lacks: a C compiler for the race
# detector and cgo, RocksDB 7.8 for state/rocksdb, kcat (a Kafka client the
# end-to-end tests check us against), PostgreSQL (the database sink's tests
# start a real server of their own, internal/pgtest), and the module's
# dependencies.
setup:
	@missing=""; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	dpkg -s librocksdb-dev >/dev/null 2>&1 || missing="$$missing librocksdb-dev"; \
	dpkg -s postgresql >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	$(GO) mod download

# example runs the word-count example on its built-in sample text.
example: setup
	$(GO) run ./examples/wordcount

# test runs every test with the race detector.
test: setup
	$(GO) test -race -count=1 ./...

# soak runs the exactly-once soak test: kfake in a process of its own, three
# app processes that are SIGKILLed and restarted at random while a generator
# writes SOAK_RECORDS records (default 200000) over SOAK_KEYS keys (default
# 100), SOAK_KILLS kills (default 10). It prints ALL-RECORDS-DELIVERED only
# when a read_committed verifier finds every record delivered exactly once.
soak: setup
	$(GO) test -tags soak -run TestSoakExactlyOnce -count=1 -timeout 60m -v .

# pgcrash runs the PostgreSQL sink's crash test: kfake in a process of its
# own, a PostgreSQL server of its own, and three app processes that are
# SIGKILLed and restarted at random, PGCRASH_KILLS times (default 10),
# while a generator writes PGCRASH_RECORDS records (default 100000); once
# for the sink's ExactlyOnce mode, once for its Idempotent mode. Each mode
# prints a PGCRASH line only when the database holds every record once
# (ExactlyOnce: an insert-only table, an aggregate and the offsets table;
# Idempotent: the aggregate, after redeliveries that the test counted).
PGCRASH_RECORDS ?= 100000
PGCRASH_KILLS ?= 10
pgcrash: setup
	PGCRASH_RECORDS=$(PGCRASH_RECORDS) PGCRASH_KILLS=$(PGCRASH_KILLS) $(GO) test -tags pgcrash -run TestPostgresSinkSurvivesSIGKILL -count=1 -timeout 30m -v .

# failover times a failover: an app process whose task holds a RocksDB store
# of FAILOVER_KEYS keys (default 1000000) is SIGKILLed, and the survivor's
# first output for that task is timed from the kill, with a standby replica
# and without one, with a FAILOVER_SESSION_TIMEOUT (default 1s) session
# timeout. It prints a FAILOVER line with both times and their ratio.
FAILOVER_KEYS ?= 1000000
FAILOVER_SESSION_TIMEOUT ?= 1s
failover: setup
	STREAMS_FAILOVER_KEYS=$(FAILOVER_KEYS) STREAMS_FAILOVER_SESSION_TIMEOUT=$(FAILOVER_SESSION_TIMEOUT) $(GO) test -tags failover -run TestFailoverTimeWithAndWithoutAStandby -count=1 -timeout 60m -v . 2>&1 | grep -v '^ *\(LAG\|RESTORED\|STATE\) '

vet:
	$(GO) vet ./...

# bench runs the end-to-end word count on the in-process Kafka: ours beside
# a raw franz-go consume-produce pipe and goka (the bench/ module, whose
# dependencies stay out of the main module), then bench-sink.
bench: setup
	cd bench && $(GO) run .
	@$(MAKE) --no-print-directory bench-sink

# bench-sink runs sink/postgres's BenchmarkSink on a PostgreSQL of its own
# (internal/pgtest) in SINK_BENCH_ROUNDS rounds (default 5), each writing
# SINK_BENCH_ROWS rows (default 50000) per variant, 1000 rows a commit: the
# sink's rows/s, exactly once with INSERTs and with COPY and idempotent
# with upserts, each beside a hand-written pgx.Batch of the same INSERTs,
# CopyFrom of the same rows and pgx.Batch of the same upserts. Every other
# round runs the baselines first. It prints each variant's median rows/s
# and its ratio to its baseline: the median of the rounds' ratios
# (internal/benchratio). About a minute.
SINK_BENCH_ROUNDS ?= 5
SINK_BENCH_ROWS ?= 50000
bench-sink: setup
	@for i in $$(seq $(SINK_BENCH_ROUNDS)); do \
	  $(GO) test -run '^$$' -bench '^BenchmarkSink$$' -benchtime=$(SINK_BENCH_ROWS)x -benchmem -count=1 ./sink/postgres/ \
	    -sink.baselinefirst=$$((i % 2 == 0)) 2>&1 || exit 1; \
	done | $(GO) run ./internal/benchratio -metric rows/s \
	  Sink/ExactlyOnce/Queue=Sink/Hand/Batch \
	  Sink/ExactlyOnce/Copy=Sink/Hand/CopyFrom \
	  Sink/Idempotent/Upsert=Sink/Hand/BatchUpsert

# bench-micro runs the benchmarks of the test driver, the stores, the
# serdes, the windowed aggregations and the DSL, with allocations, and the
# metrics' cost on the hot path (BenchmarkMetricsOverhead: with/without is
# the throughput with a registry over the throughput without, same loop).
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./testdriver/ ./state/ ./serde/ ./window/ ./kstream/
	$(GO) test -run '^$$' -bench MetricsOverhead -count 3 ./internal/runtime/

# fuzz runs each fuzzer for FUZZTIME (default 10s).
FUZZTIME ?= 10s
fuzz:
	@for pkg in ./serde/ ./state/ ./internal/checkpoint/ ./kstream/ ./iq/; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# browser-test loads the web monitor (package monitor) in headless
# Chromium: Debian's chromium, installed here if it is missing, driven over
# its DevTools pipe by the test. A word count runs on the in-process Kafka;
# the test waits until the page shows its topology, threads, tasks,
# throughput and a store entry, then a long restore, and saves screenshots
# in monitor/testdata/out/ (with -artifacts, in the tests' artifact
# directories instead); the test log names them.
.PHONY: browser-test
browser-test: setup
	@dpkg -s chromium >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(GO) test -tags browser -run '^TestBrowser' -count=1 -v ./monitor/
