package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gostreams/streams/eos"
	"github.com/gostreams/streams/internal/embedded"
)

// The memory systems (issue 12): the word count with memoryKeys distinct
// words, each once, with its counts in memory (mem-ours) or in RocksDB
// (mem-ours-rocksdb). The broker runs in a child process (this program with
// -serve-broker), so that the figures are the app's: kfake keeps every
// topic in its heap, which would otherwise dwarf the store.
var memorySystems = []backendSystem{
	{"mem-ours", memoryBackend},
	{"mem-ours-rocksdb", rocksdbBackend},
}

// memoryUse is what one memory run measured, in bytes. The base figures
// are taken just before streams.New, after a GC, with the input already in
// the process (the workload's lines and expected counts).
type memoryUse struct {
	baseHeap, peakHeap, liveHeap int64
	baseRSS, peakRSS             int64
}

// heapObjects is the bytes of heap objects, live or not yet collected: the
// heap as the garbage collector sees it (runtime.MemStats.HeapAlloc).
func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// procStatus reads a "kB" field of /proc/self/status (VmRSS, VmHWM) in
// bytes, or -1 where there is none (not Linux).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// memorySampler records the peak of the heap every few milliseconds, and
// the peak resident set size through the kernel's high-water mark, which
// start resets (/proc/self/clear_refs).
type memorySampler struct {
	use  memoryUse
	stop chan struct{}
	done sync.WaitGroup
}

func startMemorySampler() *memorySampler {
	// Return what earlier runs freed to the operating system, so that the
	// resident set starts near what is live.
	debug.FreeOSMemory()
	m := &memorySampler{stop: make(chan struct{})}
	m.use.baseHeap = heapObjects()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM to VmRSS
	m.use.baseRSS = procStatus("VmRSS")
	m.use.peakHeap = m.use.baseHeap
	m.done.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.use.peakHeap = max(m.use.peakHeap, heapObjects())
			}
		}
	})
	return m
}

// finish stops the sampling and takes the live heap after a GC, while the
// app still holds its store.
func (m *memorySampler) finish() memoryUse {
	close(m.stop)
	m.done.Wait()
	m.use.peakHeap = max(m.use.peakHeap, heapObjects())
	m.use.peakRSS = procStatus("VmHWM")
	runtime.GC()
	m.use.liveHeap = heapObjects()
	return m.use
}

// serveBroker is the child process of the memory runs: it starts kfake,
// prints its addresses on one line, and serves until its standard input
// closes.
func serveBroker() error {
	c, err := embedded.Start()
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(strings.Join(c.Addrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// startBrokerProcess runs serveBroker in a child and connects to it.
func startBrokerProcess(ctx context.Context) (*embedded.Cluster, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-serve-broker")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { _ = stdin.Close(); _ = cmd.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("the broker process printed no address: %w", err)
	}
	c, err := embedded.Connect(strings.Split(strings.TrimSpace(line), ","))
	if err != nil {
		stop()
		return nil, nil, err
	}
	return c, func() { c.Close(); stop() }, nil
}

type memoryResult struct {
	system     string
	partitions int
	use        memoryUse
	measurement
}

func (r memoryResult) key() (string, int) { return r.system, r.partitions }

// runMemories runs the memory systems once at each partition count and
// prints their table.
func runMemories(ctx context.Context, o options, stdout, stderr io.Writer) ([]memoryResult, error) {
	wl := newWorkloadOfEach(o.memoryKeys, o.wordsPerLine)
	fmt.Fprintf(stderr, "bench: memory: %d words in %d lines, each word once\n", wl.words, len(wl.lines))
	var results []memoryResult
	for _, p := range o.partitions {
		for _, s := range memorySystems {
			if !slices.Contains(o.systems, s.name) {
				continue
			}
			r, err := runMemoryOnce(ctx, o, s.backend, p, wl)
			if err != nil {
				return nil, fmt.Errorf("%s, %d partitions: %w", s.name, p, err)
			}
			r.system = s.name
			fmt.Fprintf(stderr, "bench: %-16s %d partitions: %.2fs, peak heap %.0f MiB, peak RSS %.0f MiB; output checked\n",
				s.name, p, r.wall.Seconds(), mb(r.use.peakHeap-r.use.baseHeap), mb(r.use.peakRSS-r.use.baseRSS))
			results = append(results, r)
		}
	}
	printMemoryTable(stdout, o, results)
	return results, nil
}

func runMemoryOnce(ctx context.Context, o options, backend string, partitions int, wl *workload) (memoryResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, stop, err := startBrokerProcess(ctx)
	if err != nil {
		return memoryResult{}, err
	}
	defer stop()
	for _, t := range []string{inputTopic, oursOutputTopic} {
		if err := c.CreateTopic(ctx, t, int32(partitions)); err != nil {
			return memoryResult{}, err
		}
	}
	if err := wl.produce(ctx, c, partitions); err != nil {
		return memoryResult{}, err
	}
	var sampler *memorySampler
	var use memoryUse
	mo := o
	mo.beforeStart = func() { sampler = startMemorySampler() }
	mo.caughtUp = func() { use = sampler.finish() }
	m, err := runWordCount(ctx, mo, c, wl, backend, eos.AtLeastOnce)
	if err != nil {
		return memoryResult{}, err
	}
	return memoryResult{partitions: partitions, use: use, measurement: m}, nil
}

// printMemoryTable prints the memory runs: above the base (the process
// before the app started, input included), the peak of the Go heap (live
// and garbage), the live heap after a GC at the end with the app still
// running, and the peak resident set size (which counts RocksDB's C++
// memory, outside the Go heap); rss/memory is a row's peak RSS over
// mem-ours' at the same partition count.
func printMemoryTable(w io.Writer, o options, results []memoryResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tpartitions\tkeys\tseconds\tpeak heap MiB\tlive heap MiB\tpeak RSS MiB\tbase RSS MiB\trss/memory\t")
	for _, r := range results {
		ratio := ""
		if base, ok := find(results, "mem-ours", r.partitions); ok && base.use.peakRSS > base.use.baseRSS {
			ratio = fmt.Sprintf("%.2f", float64(r.use.peakRSS-r.use.baseRSS)/float64(base.use.peakRSS-base.use.baseRSS))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t\n", r.system, r.partitions, groupDigits(int64(o.memoryKeys)),
			r.wall.Seconds(), mb(r.use.peakHeap-r.use.baseHeap), mb(r.use.liveHeap-r.use.baseHeap),
			mb(r.use.peakRSS-r.use.baseRSS), mb(r.use.baseRSS), ratio)
	}
	tw.Flush()
}

// mb is n bytes in MiB.
func mb(n int64) float64 { return float64(n) / (1 << 20) }
