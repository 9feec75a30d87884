package main

import (
	"strings"
	"testing"
	"time"
)

func TestAims(t *testing.T) {
	counts := []result{
		{"ours", 1, measurement{wall: 2 * time.Second}},
		{"ours-rocksdb", 1, measurement{wall: 4 * time.Second}},
		{"raw2", 1, measurement{wall: 1 * time.Second}},
	}
	restores := []restoreResult{
		{system: "restore", partitions: 1, raw: measurement{wall: time.Second}, ours: measurement{wall: 2 * time.Second}},
	}
	byFigure := map[string]aim{}
	for _, a := range aims {
		byFigure[a.system+"/"+a.base] = a
	}
	for _, tc := range []struct {
		aim        string
		partitions int
		ratio      float64 // 0: not run
	}{
		{"ours-rocksdb/ours", 1, 0.5},
		{"ours-rocksdb/goka", 1, 0},
		{"restore/raw read", 1, 0.5},
		{"restore-rocksdb/raw read", 1, 0},
		{"ours/raw2", 1, 0.5},
		{"ours/raw2", 4, 0},
		{"ours-eos/ours-cached", 1, 0},
	} {
		a, ok := byFigure[tc.aim]
		if !ok {
			t.Fatalf("no aim %s", tc.aim)
		}
		got, ok := aimRatio(a, tc.partitions, counts, restores)
		if ok != (tc.ratio != 0) || got != tc.ratio {
			t.Errorf("%s at %d partitions: got %v, %v; want %v", tc.aim, tc.partitions, got, ok, tc.ratio)
		}
	}

	var b strings.Builder
	printAims(&b, []int{1, 4}, counts, restores)
	for _, want := range []string{
		"restore into memory vs a raw read 1 0.50 ≥ 0.50 yes",
		"word count ours (at-least-once, memory) vs raw2 1 0.50 ≥ 0.75 no",
		"word count ours (at-least-once, memory) vs raw2 4 not run ≥ 0.75",
	} {
		if !strings.Contains(collapse(b.String()), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
	if n := strings.Count(b.String(), "\n"); n != 1+2*len(aims) {
		t.Errorf("%d lines, want a header and a line per aim and partition count:\n%s", n, b.String())
	}
}

// collapse makes every run of spaces in each line one space.
func collapse(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(out, "\n")
}
