package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	valid := func() options {
		return options{words: 1, vocab: 1, wordsPerLine: 1, runs: 1, commitInterval: time.Millisecond, maxPoll: 1,
			threads: 1, restoreRecords: 1, restoreKeys: 1, memoryKeys: 1, latencyDuration: time.Second}
	}
	o := valid()
	if err := parseOptions(&o, "1,4", "ours,latency-ours", "20000, 100000"); err != nil {
		t.Fatal(err)
	}
	if len(o.latencyRates) != 2 || o.latencyRates[1] != 100000 || len(o.partitions) != 2 || len(o.systems) != 2 {
		t.Fatalf("parsed %+v", o)
	}
	for _, tc := range []struct{ partitions, systems, rates, want string }{
		{"0", "ours", "1", "-partitions"},
		{"1", "nope", "1", `"nope" is not one of`},
		{"1", "ours", "fast", "-latency-rates"},
		{"1", "ours", "0", "-latency-rates"},
	} {
		o := valid()
		err := parseOptions(&o, tc.partitions, tc.systems, tc.rates)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOptions(%q, %q, %q) = %v, want an error with %q", tc.partitions, tc.systems, tc.rates, err, tc.want)
		}
	}
	o = valid()
	o.latencyDuration = time.Millisecond
	if err := parseOptions(&o, "1", "ours", "10"); err == nil || !strings.Contains(err.Error(), "0 records") {
		t.Errorf("a rate and duration giving no record: %v", err)
	}
}
