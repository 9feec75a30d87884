// Package describetest helps tests compare topology descriptions with
// Kafka Streams' where only the sub-topology numbering may differ.
package describetest

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Bodies splits a description into its sub-topologies' node lines,
// without their "Sub-topology: n" headers, sorted.
func Bodies(desc string) []string {
	var bodies []string
	for _, st := range strings.Split(strings.TrimPrefix(desc, "Topologies:\n"), "\n\n") {
		if st = strings.TrimSpace(st); st != "" {
			_, body, _ := strings.Cut(st, "\n")
			bodies = append(bodies, body)
		}
	}
	slices.Sort(bodies)
	return bodies
}

// RepartitionTopicNaming is the description Kafka Streams'
// RepartitionTopicNamingTest expects without optimization
// (apache/kafka, streams/src/test/java/org/apache/kafka/streams/kstream/
// RepartitionTopicNamingTest.java, EXPECTED_UNOPTIMIZED_TOPOLOGY), kept in
// topology/testdata for the topology and DSL tests that build its program.
func RepartitionTopicNaming() (string, error) {
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "topology", "testdata", "RepartitionTopicNamingTest.txt"))
	return string(b), err
}
