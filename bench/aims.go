package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// aim is one figure the project is held to: the throughput of system
// divided by that of base, at the same partition count, should be at least
// min. The restore figures divide our restore by the raw read of the same
// changelog in the same run.
type aim struct {
	figure       string
	system, base string
	min          float64
}

// rawRead is the base of the restore aims: the raw franz-go read measured
// beside each restore.
const rawRead = "raw read"

var aims = []aim{
	{"word count, RocksDB store, no cache, vs memory", "ours-rocksdb", "ours", 0.6},
	{"word count, RocksDB vs goka memory", "ours-rocksdb", "goka", 1.5},
	{"restore into RocksDB vs a raw read", "restore-rocksdb", rawRead, 0.25},
	{"restore into memory vs a raw read", "restore", rawRead, 0.5},
	{"word count ours (at-least-once, memory) vs raw2", "ours", "raw2", 0.75},
	{"ours-eos vs ours-cached", "ours-eos", "ours-cached", 0.95},
}

// aimRatio is the ratio of an aim at one partition count, or false where
// this run did not measure both sides.
func aimRatio(a aim, partitions int, counts []result, restores []restoreResult) (float64, bool) {
	if a.base == rawRead {
		r, ok := find(restores, a.system, partitions)
		if !ok {
			return 0, false
		}
		return r.raw.wall.Seconds() / r.ours.wall.Seconds(), true
	}
	sys, ok1 := find(counts, a.system, partitions)
	base, ok2 := find(counts, a.base, partitions)
	if !ok1 || !ok2 {
		return 0, false
	}
	// Both did the same words: the ratio of throughputs is that of times.
	return base.wall.Seconds() / sys.wall.Seconds(), true
}

// printAims prints each aim at each partition count with this run's ratio
// and whether it is met; "not run" where the run left out a side (choose
// the systems with -systems).
func printAims(w io.Writer, partitions []int, counts []result, restores []restoreResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "aim\tpartitions\tratio\taim\tmet\t")
	for _, a := range aims {
		for _, p := range partitions {
			ratio, ok := aimRatio(a, p, counts, restores)
			if !ok {
				fmt.Fprintf(tw, "%s\t%d\tnot run\t≥ %.2f\t\t\n", a.figure, p, a.min)
				continue
			}
			met := "no"
			if ratio >= a.min {
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t≥ %.2f\t%s\t\n", a.figure, p, ratio, a.min, met)
		}
	}
	tw.Flush()
}
