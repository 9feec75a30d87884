package main

import (
	"strings"
	"testing"
	"time"
)

func TestPrintAims(t *testing.T) {
	counts := []result{
		{"ours", 1, measurement{wall: 2 * time.Second}},
		{"ours-rocksdb", 1, measurement{wall: 4 * time.Second}},
		{"raw2", 1, measurement{wall: 1 * time.Second}},
	}
	restores := []restoreResult{
		{system: "restore", partitions: 1, raw: measurement{wall: time.Second}, ours: measurement{wall: 2 * time.Second}},
	}
	var b strings.Builder
	printAims(&b, []int{1, 4}, counts, restores)
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		for _, a := range aims {
			for _, p := range []string{"1", "4"} {
				if strings.HasPrefix(l, a.figure+"  ") && strings.Fields(l[len(a.figure):])[0] == p {
					lines[a.figure+"/"+p] = strings.Join(strings.Fields(l[len(a.figure):]), " ")
				}
			}
		}
	}
	want := map[string]string{
		"word count, RocksDB store, no cache, vs memory/1":  "1 0.50 ≥ 0.60 no",
		"word count, RocksDB vs goka memory/1":              "1 not run ≥ 1.50",
		"restore into memory vs a raw read/1":               "1 0.50 ≥ 0.50 yes",
		"restore into RocksDB vs a raw read/1":              "1 not run ≥ 0.25",
		"word count ours (at-least-once, memory) vs raw2/1": "1 0.50 ≥ 0.75 no",
		"word count ours (at-least-once, memory) vs raw2/4": "4 not run ≥ 0.75",
	}
	for k, v := range want {
		if lines[k] != v {
			t.Errorf("%s: got %q, want %q\n%s", k, lines[k], v, b.String())
		}
	}
}
