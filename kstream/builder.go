package kstream

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gostreams/streams/topology"
)

// StreamsBuilder builds a topology from DSL operations: Stream and Table
// start chains, the chains' operations add nodes and stores, and Build
// returns the *topology.Topology that streams.App and the test driver run.
//
// Every node and store gets a name as Kafka Streams gives it, a prefix for
// the operation and a counter shared by nodes and stores
// (KSTREAM-SOURCE-0000000000, KSTREAM-AGGREGATE-STATE-STORE-0000000003),
// unless the operation is named with Named or its store with
// Materialized.Name, so that Describe prints what Kafka Streams prints for
// the same program.
//
// A StreamsBuilder is not safe for concurrent use.
type StreamsBuilder struct {
	b     *topology.Builder
	index int
	// problems are DSL mistakes found while building (a missing serde,
	// a bad option); Build reports them with the topology's own.
	problems []string
	// repartitions counts the repartition topics by name, to report a
	// name used twice.
	repartitions map[string]bool
	// serdeless are nodes whose missing serdes problems already report:
	// Build leaves out the topology's own, vaguer, reports of them.
	serdeless map[string]bool
	// later are the table stores Build adds if they are materialized by
	// then.
	later []*rows
	// joinRepartitions is, by stream node, the last repartition a join
	// made of it (a KStream[K, V]), which a join without a name reuses.
	joinRepartitions map[string]any
}

// NewStreamsBuilder returns an empty builder.
func NewStreamsBuilder() *StreamsBuilder {
	return &StreamsBuilder{b: topology.NewBuilder(), repartitions: map[string]bool{}, joinRepartitions: map[string]any{}, serdeless: map[string]bool{}}
}

// Builder is the Processor API builder underneath: add processors, stores
// and sinks to it directly, below a chain's Node, and come back to the DSL
// with FromNode.
func (sb *StreamsBuilder) Builder() *topology.Builder { return sb.b }

// Build validates the topology and returns it. Its error lists every
// problem found, the DSL's (a missing serde, a bad option) and the
// topology's.
func (sb *StreamsBuilder) Build() (*topology.Topology, error) {
	for _, r := range sb.later {
		r.add()
	}
	sb.later = nil
	t, err := sb.b.Build()
	if len(sb.problems) == 0 {
		return t, err
	}
	problems := slices.Clone(sb.problems)
	var te *topology.Error
	if errors.As(err, &te) {
		for _, p := range te.Problems {
			if !sb.reported(p) {
				problems = append(problems, p)
			}
		}
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	return nil, &BuildError{Problems: problems}
}

// reported says whether topology problem p is about the serdes of a node
// whose missing serdes a DSL problem already reports.
func (sb *StreamsBuilder) reported(p string) bool {
	for n := range sb.serdeless {
		if strings.HasPrefix(p, fmt.Sprintf("sink %q needs both", n)) || strings.HasPrefix(p, fmt.Sprintf("source %q needs both", n)) {
			return true
		}
	}
	return false
}

// BuildError lists every problem Build found: the DSL's, then the
// topology's.
type BuildError struct{ Problems []string }

func (e *BuildError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "kstream: %d problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		sb.WriteString("\n  - ")
		sb.WriteString(p)
	}
	return sb.String()
}

func (sb *StreamsBuilder) problem(format string, args ...any) {
	sb.problems = append(sb.problems, fmt.Sprintf(format, args...))
}

// newName is Kafka Streams' InternalStreamsBuilder.newProcessorName:
// prefix and the next index in ten digits.
func (sb *StreamsBuilder) newName(prefix string) string {
	name := fmt.Sprintf("%s%010d", prefix, sb.index)
	sb.index++
	return name
}

// newStoreName is Kafka Streams' newStoreName: prefix, "STATE-STORE-" and
// the next index.
func (sb *StreamsBuilder) newStoreName(prefix string) string {
	return sb.newName(prefix + "STATE-STORE-")
}

// name is the name of an operation: the one given with Named, or a new
// one with prefix. A new one is drawn either way, as Kafka Streams'
// NamedInternal.orElseGenerateWithPrefix still burns the index "to keep
// topology backward compatibility": the names after it are Kafka Streams'.
func (sb *StreamsBuilder) name(named []Named, prefix string) string {
	generated := sb.newName(prefix)
	if n := nameOf(named); n != "" {
		return n
	}
	return generated
}

// nameNoBurn is name for the operations that draw no index when named
// (Process, ProcessValues), as in Kafka Streams.
func (sb *StreamsBuilder) nameNoBurn(named []Named, prefix string) string {
	if n := nameOf(named); n != "" {
		return n
	}
	return sb.newName(prefix)
}

// Named names an operation's processor, in place of the generated
// KSTREAM-…-0000000001; its internal topics and stores are then named
// after it too, as Kafka Streams' Named.as does. Pass it as the last
// argument of an operation.
type Named string

func nameOf(named []Named) string {
	for _, n := range named {
		if n != "" {
			return string(n)
		}
	}
	return ""
}

// Stream reads topics as a record stream: every record is an event. The
// serdes come from consumed, which is required (Go has no default serde).
func Stream[K, V any](sb *StreamsBuilder, topics []string, consumed Consumed[K, V]) KStream[K, V] {
	return stream(sb, topology.Source[K, V]{Topics: topics}, consumed)
}

// StreamPattern reads every topic whose whole name matches pattern.
func StreamPattern[K, V any](sb *StreamsBuilder, pattern *regexp.Regexp, consumed Consumed[K, V]) KStream[K, V] {
	return stream(sb, topology.Source[K, V]{Pattern: pattern}, consumed)
}

func stream[K, V any](sb *StreamsBuilder, src topology.Source[K, V], consumed Consumed[K, V]) KStream[K, V] {
	name := sb.name([]Named{Named(consumed.Name)}, sourceName)
	src.KeySerde, src.ValueSerde = consumed.KeySerde, consumed.ValueSerde
	src.TimestampExtractor, src.OffsetReset = consumed.TimestampExtractor, consumed.OffsetReset
	n := topology.AddSource(sb.b, name, src)
	return KStream[K, V]{sb: sb, node: n, keySerde: consumed.KeySerde, valueSerde: consumed.ValueSerde}
}
