// Command wordcount counts the words of its input with the word-count
// topology (see Topology) and prints one "word count" line per word, sorted
// by word.
//
// Until the Kafka runtime lands, it runs the topology in-process with the
// test driver: the same task code, with no broker.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
)

const sampleText = `all streams lead to kafka
hello kafka streams
join kafka summit
`

func main() {
	input := flag.String("input", "", "read lines from `FILE` instead of the built-in sample text")
	flag.Parse()
	if err := run(*input, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run(inputPath string, stdout, stderr io.Writer) error {
	var in io.Reader = strings.NewReader(sampleText)
	if inputPath != "" {
		f, err := os.Open(inputPath)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	topo, err := Topology()
	if err != nil {
		return err
	}
	d, err := testdriver.New(topo, testdriver.Options{ApplicationID: "wordcount"})
	if err != nil {
		return err
	}
	defer d.Close()
	lines := testdriver.CreateInputTopic(d, InputTopic, serde.String(), serde.String())
	out := testdriver.CreateOutputTopic(d, OutputTopic, serde.String(), serde.Int64())

	fmt.Fprintln(stderr, "wordcount: running in-process with the test driver (no broker)")
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		if err := lines.PipeValue(sc.Text()); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	counts, err := testdriver.ReadKeyValuesToMap(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wordcount: %d lines, %d distinct words\n", n, len(counts))
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(stdout, "%s %d\n", w, counts[w])
	}
	return nil
}
