// Command benchratio reads `go test -bench` output on stdin, copies it to
// stdout, and then prints, for each pair system=baseline given as
// arguments, the median of a metric (-metric, default rows/s) of each side
// and the ratio system/baseline: the median of the ratios of the i-th
// result of the system to the i-th result of the baseline, so that a
// make target running `go test -count=1` several times pairs each
// measurement with the baseline measured a few seconds from it.
//
//	go test -run '^$' -bench Sink ./sink/postgres/ | go run ./internal/benchratio Sink/ExactlyOnce/Queue=Sink/Hand/Batch
//
// Names are the benchmarks' without the Benchmark prefix and the
// -GOMAXPROCS suffix. It exits 1 if the input reports a failure, or lacks
// a pair's results, so that a pipe into it cannot hide a failed run.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	metric := flag.String("metric", "rows/s", "the metric to compare, a unit of the benchmark lines")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go test -bench ... | benchratio [-metric unit] system=baseline ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *metric, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

type pair struct{ system, base string }

func run(in io.Reader, out io.Writer, metric string, args []string) error {
	var pairs []pair
	for _, a := range args {
		sys, base, ok := strings.Cut(a, "=")
		if !ok || sys == "" || base == "" {
			return fmt.Errorf("argument %q: want system=baseline", a)
		}
		pairs = append(pairs, pair{sys, base})
	}
	results, failed, err := parse(io.TeeReader(in, out), metric)
	if err != nil {
		return err
	}
	if failed != "" {
		return fmt.Errorf("the benchmarks failed: %s", failed)
	}
	var missing []string
	for _, p := range pairs {
		for _, name := range []string{p.system, p.base} {
			if len(results[name]) == 0 {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no %s result for %s", metric, strings.Join(missing, ", "))
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "system\t%s\tbaseline\t%s\tratio\tmin\tmax\truns\t\n", metric, metric)
	for _, p := range pairs {
		sys, base := results[p.system], results[p.base]
		n := min(len(sys), len(base))
		ratios := make([]float64, n)
		for i := range n {
			ratios[i] = sys[i] / base[i]
		}
		slices.Sort(ratios)
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t\n",
			p.system, median(sys), p.base, median(base), median(ratios), ratios[0], ratios[n-1], n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s: the median of the runs; ratio: the median of system/baseline run by run, and its min and max\n", metric)
	return err
}

// benchLine is a result line: name-procs, iterations, then value unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// parse returns each benchmark's values of metric in the order they came,
// and the first line that reports a failure, if any.
func parse(in io.Reader, metric string) (map[string][]float64, string, error) {
	results := map[string][]float64{}
	failed := ""
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if failed == "" && (strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:")) {
			failed = line
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i+1] != metric {
				continue
			}
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, "", fmt.Errorf("%q: %v", line, err)
			}
			results[m[1]] = append(results[m[1]], v)
		}
	}
	return results, failed, sc.Err()
}

func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
