package kstream

import (
	"reflect"
	"regexp"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' KStreamImpl, for generated node names.
const (
	sourceName        = "KSTREAM-SOURCE-"
	sinkName          = "KSTREAM-SINK-"
	filterName        = "KSTREAM-FILTER-"
	mapName           = "KSTREAM-MAP-"
	mapValuesName     = "KSTREAM-MAPVALUES-"
	flatMapName       = "KSTREAM-FLATMAP-"
	flatMapValuesName = "KSTREAM-FLATMAPVALUES-"
	keySelectName     = "KSTREAM-KEY-SELECT-"
	peekName          = "KSTREAM-PEEK-"
	foreachName       = "KSTREAM-FOREACH-"
	mergeName         = "KSTREAM-MERGE-"
	branchName        = "KSTREAM-BRANCH-"
	branchChildName   = "KSTREAM-BRANCHCHILD-"
	processorName     = "KSTREAM-PROCESSOR-"
	processValuesName = "KSTREAM-PROCESSVALUES-"
	repartitionName   = "KSTREAM-REPARTITION-"
	toTableName       = "KSTREAM-TOTABLE-"
)

// KStream is a record stream: every record is an event, and records with
// the same key are independent. K and V are its key and value types; an
// operation that changes one is a function (Map, MapValues, SelectKey, …),
// one that keeps both a method (Filter, Peek, To, …), because Go methods
// take no type parameters.
//
// A KStream is a value that names one node of the topology being built;
// calling two operations on it branches the stream, as in Kafka Streams.
type KStream[K, V any] struct {
	sb         *StreamsBuilder
	node       topology.Node[K, V]
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// keyChanged says an operation may have changed the key since the
	// stream was read or repartitioned: grouping it then repartitions it,
	// as Kafka Streams' repartitionRequired does.
	keyChanged bool
}

// Node is the stream's node, for the Processor API: add processors below
// it with topology.AddProcessor on StreamsBuilder.Builder, and come back to
// the DSL with FromNode.
func (s KStream[K, V]) Node() topology.Node[K, V] { return s.node }

// FromNode makes a KStream of a Processor API node added to sb.Builder().
// The serdes are those the stream's records are written with when an
// operation needs them and none is given; nil leaves them unknown.
func FromNode[K, V any](sb *StreamsBuilder, node topology.Node[K, V], keySerde serde.Serde[K], valueSerde serde.Serde[V]) KStream[K, V] {
	return KStream[K, V]{sb: sb, node: node, keySerde: keySerde, valueSerde: valueSerde, keyChanged: true}
}

// derived is a stream of other types below s's builder.
func derived[K, V, K2, V2 any](s KStream[K, V], node topology.Node[K2, V2], ks serde.Serde[K2], vs serde.Serde[V2], keyChanged bool) KStream[K2, V2] {
	return KStream[K2, V2]{sb: s.sb, node: node, keySerde: ks, valueSerde: vs, keyChanged: keyChanged}
}

// add adds a stateless DSL processor below s: process is called for every
// record, under guard, with what as the name of the user's function.
func add[K, V, K2, V2 any](s KStream[K, V], name, what string, process func(c *call, ctx processor.Context[K2, V2], rec processor.Record[K, V]) error) topology.Node[K2, V2] {
	return topology.AddProcessor(s.sb.b, name, guarded(name, what, process), s.node)
}

// Filter keeps the records for which p is true.
func (s KStream[K, V]) Filter(p Predicate[K, V], named ...Named) KStream[K, V] {
	return s.filter(p, false, named)
}

// FilterNot keeps the records for which p is false.
func (s KStream[K, V]) FilterNot(p Predicate[K, V], named ...Named) KStream[K, V] {
	return s.filter(p, true, named)
}

func (s KStream[K, V]) filter(p Predicate[K, V], not bool, named []Named) KStream[K, V] {
	name := s.sb.name(named, filterName)
	n := add(s, name, "the predicate", func(c *call, ctx processor.Context[K, V], rec processor.Record[K, V]) error {
		ok, err := try2(c, p, rec.Key, rec.Value)
		if err != nil || ok == not {
			return err
		}
		return ctx.Forward(rec)
	})
	return derived(s, n, s.keySerde, s.valueSerde, s.keyChanged)
}

// Peek calls f for every record and forwards it unchanged.
func (s KStream[K, V]) Peek(f func(key K, value V), named ...Named) KStream[K, V] {
	name := s.sb.name(named, peekName)
	n := add(s, name, "the peek action", func(c *call, ctx processor.Context[K, V], rec processor.Record[K, V]) error {
		if err := do2(c, f, rec.Key, rec.Value); err != nil {
			return err
		}
		return ctx.Forward(rec)
	})
	return derived(s, n, s.keySerde, s.valueSerde, s.keyChanged)
}

// Foreach calls f for every record; the stream ends there.
func (s KStream[K, V]) Foreach(f func(key K, value V), named ...Named) {
	name := s.sb.name(named, foreachName)
	add(s, name, "the foreach action", func(c *call, _ processor.Context[K, V], rec processor.Record[K, V]) error {
		return do2(c, f, rec.Key, rec.Value)
	})
}

// Merge is a stream of the records of s and of others, in the order the
// task processes them.
func (s KStream[K, V]) Merge(other KStream[K, V], named ...Named) KStream[K, V] {
	name := s.sb.name(named, mergeName)
	n := topology.AddProcessor(s.sb.b, name, processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, V]) error {
		return ctx.Forward(rec)
	}), s.node, other.node)
	ks, vs := s.keySerde, s.valueSerde
	if ks == nil {
		ks = other.keySerde
	}
	if vs == nil {
		vs = other.valueSerde
	}
	return derived(s, n, ks, vs, s.keyChanged || other.keyChanged)
}

// To writes the stream to topic.
func (s KStream[K, V]) To(topic string, produced ...Produced[K, V]) {
	s.to(topic, nil, produced)
}

// ToTopicFunc writes each record to the topic that choose returns for it.
func (s KStream[K, V]) ToTopicFunc(choose func(rec processor.Record[K, V]) (string, error), produced ...Produced[K, V]) {
	s.to("", choose, produced)
}

func (s KStream[K, V]) to(topic string, choose func(processor.Record[K, V]) (string, error), produced []Produced[K, V]) {
	var p Produced[K, V]
	if len(produced) > 0 {
		p = produced[0]
	}
	name := s.sb.name([]Named{Named(p.Name)}, sinkName)
	ks, vs := or(p.KeySerde, s.keySerde), or(p.ValueSerde, s.valueSerde)
	s.sb.needSerdes(name, "Produced", ks == nil, vs == nil, name)
	topology.AddSink(s.sb.b, name, topology.Sink[K, V]{
		Topic: topic, TopicChooser: choose, KeySerde: ks, ValueSerde: vs, Partitioner: p.Partitioner,
	}, s.node)
}

// ToExternal writes the stream to a system outside Kafka through an
// external sink, such as one of sink/postgres (whose To calls this), which
// commits with the stream's tasks; the stream ends there. Its node is
// named as Process's, KSTREAM-PROCESSOR-<n>, unless named.
func (s KStream[K, V]) ToExternal(sink topology.ExternalSink[K, V], named ...Named) {
	name := s.sb.nameNoBurn(named, processorName)
	topology.AddExternalSink(s.sb.b, name, sink, s.node)
}

// needSerdes records a problem for an operation that lacks a serde. nodes
// are the topology nodes that will lack it, whose own reports of it Build
// leaves out.
func (sb *StreamsBuilder) needSerdes(name, option string, noKey, noValue bool, nodes ...string) {
	if noKey || noValue {
		for _, n := range nodes {
			sb.serdeless[n] = true
		}
	}
	switch {
	case noKey && noValue:
		sb.problem("%s needs a key serde and a value serde: the stream's types changed since its serdes were known; give them in its %s", name, option)
	case noKey:
		sb.problem("%s needs a key serde: the stream's key type changed since its serde was known; give KeySerde in its %s", name, option)
	case noValue:
		sb.problem("%s needs a value serde: the stream's value type changed since its serde was known; give ValueSerde in its %s", name, option)
	}
}

// inherit is the serde of a new type T2 made from a stream whose type had
// serde old: old itself when T2 is the same type, else the stock serde of
// T2 when it is string, []byte, int64, int32, float64 or bool, else nil
// (unknown: the operation that needs it asks for it).
func inherit[T2, T any](old serde.Serde[T]) serde.Serde[T2] {
	if s, ok := any(old).(serde.Serde[T2]); ok && old != nil {
		return s
	}
	return stock[T2]()
}

// stock is the stock serde of T, or nil.
func stock[T any]() serde.Serde[T] {
	var s any
	switch any(*new(T)).(type) {
	case string:
		s = serde.String()
	case []byte:
		s = serde.Bytes()
	case int64:
		s = serde.Int64()
	case int32:
		s = serde.Int32()
	case float64:
		s = serde.Float64()
	case bool:
		s = serde.Bool()
	default:
		return nil
	}
	return s.(serde.Serde[T])
}

// or is a, or b when a is nil.
func or[T any](a, b serde.Serde[T]) serde.Serde[T] {
	if a != nil {
		return a
	}
	return b
}

// Map turns each record into another record, key and value.
func Map[K, V, K2, V2 any](s KStream[K, V], f func(key K, value V) (K2, V2), named ...Named) KStream[K2, V2] {
	name := s.sb.name(named, mapName)
	n := add(s, name, "the mapper", func(c *call, ctx processor.Context[K2, V2], rec processor.Record[K, V]) error {
		k, v, err := try2x2(c, f, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		return ctx.Forward(processor.Derive(rec, k, v))
	})
	return derived(s, n, inherit[K2](s.keySerde), inherit[V2](s.valueSerde), true)
}

// MapValues turns each record's value into another value; the key stays,
// so the stream needs no repartition for it.
func MapValues[K, V, V2 any](s KStream[K, V], f func(value V) V2, named ...Named) KStream[K, V2] {
	name := s.sb.name(named, mapValuesName)
	n := add(s, name, "the value mapper", func(c *call, ctx processor.Context[K, V2], rec processor.Record[K, V]) error {
		v, err := try1(c, f, rec.Value)
		if err != nil {
			return err
		}
		return ctx.Forward(processor.Derive(rec, rec.Key, v))
	})
	return derived(s, n, s.keySerde, inherit[V2](s.valueSerde), s.keyChanged)
}

// MapValuesWithKey is MapValues with the key as an argument (read only).
func MapValuesWithKey[K, V, V2 any](s KStream[K, V], f func(key K, value V) V2, named ...Named) KStream[K, V2] {
	name := s.sb.name(named, mapValuesName)
	n := add(s, name, "the value mapper", func(c *call, ctx processor.Context[K, V2], rec processor.Record[K, V]) error {
		v, err := try2(c, f, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		return ctx.Forward(processor.Derive(rec, rec.Key, v))
	})
	return derived(s, n, s.keySerde, inherit[V2](s.valueSerde), s.keyChanged)
}

// KeyValue is a key and a value, the records FlatMap makes.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// FlatMap turns each record into zero or more records.
func FlatMap[K, V, K2, V2 any](s KStream[K, V], f func(key K, value V) []KeyValue[K2, V2], named ...Named) KStream[K2, V2] {
	name := s.sb.name(named, flatMapName)
	n := add(s, name, "the mapper", func(c *call, ctx processor.Context[K2, V2], rec processor.Record[K, V]) error {
		kvs, err := try2(c, f, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := ctx.Forward(processor.Derive(rec, kv.Key, kv.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	return derived(s, n, inherit[K2](s.keySerde), inherit[V2](s.valueSerde), true)
}

// FlatMapValues turns each record's value into zero or more values, each
// forwarded with the record's key.
func FlatMapValues[K, V, V2 any](s KStream[K, V], f func(value V) []V2, named ...Named) KStream[K, V2] {
	name := s.sb.name(named, flatMapValuesName)
	n := add(s, name, "the value mapper", func(c *call, ctx processor.Context[K, V2], rec processor.Record[K, V]) error {
		vs, err := try1(c, f, rec.Value)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := ctx.Forward(processor.Derive(rec, rec.Key, v)); err != nil {
				return err
			}
		}
		return nil
	})
	return derived(s, n, s.keySerde, inherit[V2](s.valueSerde), s.keyChanged)
}

// SelectKey gives each record a new key, f of the record.
func SelectKey[K, V, K2 any](s KStream[K, V], f func(key K, value V) K2, named ...Named) KStream[K2, V] {
	name := s.sb.name(named, keySelectName)
	return selectKey(s, name, "the key selector", f)
}

func selectKey[K, V, K2 any](s KStream[K, V], name, what string, f func(key K, value V) K2) KStream[K2, V] {
	n := add(s, name, what, func(c *call, ctx processor.Context[K2, V], rec processor.Record[K, V]) error {
		k, err := try2(c, f, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		return ctx.Forward(processor.Derive(rec, k, rec.Value))
	})
	return derived(s, n, inherit[K2](s.keySerde), s.valueSerde, true)
}

// Process runs a Processor API processor, one instance per task, on the
// stream, with access to the named stores (add them with
// StreamsBuilder.Builder().AddStateStore). What it forwards is the new
// stream; its key may have changed, so grouping it repartitions.
func Process[K, V, K2, V2 any](s KStream[K, V], supplier processor.Supplier[K, V, K2, V2], stores []string, named ...Named) KStream[K2, V2] {
	name := s.sb.nameNoBurn(named, processorName)
	n := topology.AddProcessor(s.sb.b, name, supplier, s.node)
	if len(stores) > 0 {
		s.sb.b.ConnectProcessorAndStateStores(name, stores...)
	}
	return derived(s, n, inherit[K2](s.keySerde), inherit[V2](s.valueSerde), true)
}

// ProcessValues is Process for a processor that keeps each record's key,
// as Kafka Streams' FixedKeyProcessor: what it forwards while processing a
// record gets that record's key, whatever key it set, so the stream needs
// no repartition for it.
func ProcessValues[K, V, V2 any](s KStream[K, V], supplier processor.Supplier[K, V, K, V2], stores []string, named ...Named) KStream[K, V2] {
	name := s.sb.nameNoBurn(named, processValuesName)
	n := topology.AddProcessor(s.sb.b, name, keyKeeping(supplier), s.node)
	if len(stores) > 0 {
		s.sb.b.ConnectProcessorAndStateStores(name, stores...)
	}
	return derived(s, n, s.keySerde, inherit[V2](s.valueSerde), s.keyChanged)
}

// Repartition writes the stream through an internal topic,
// "<application.id>-<name>-repartition", so that each key reaches the task
// of its partition downstream.
func (s KStream[K, V]) Repartition(r ...Repartitioned[K, V]) KStream[K, V] {
	var rp Repartitioned[K, V]
	if len(r) > 0 {
		rp = r[0]
	}
	base := rp.Name
	if base == "" {
		base = s.sb.newName(repartitionName)
	}
	ks, vs := or(rp.KeySerde, s.keySerde), or(rp.ValueSerde, s.valueSerde)
	return repartition(s, base, "Repartitioned", topology.Repartition[K, V]{
		KeySerde: ks, ValueSerde: vs, Partitioner: rp.Partitioner, Partitions: rp.Partitions,
	})
}

// repartition routes s through "<base>-repartition", with Kafka Streams'
// nodes: "<base>-repartition-filter" (dropping records with a nil key, which
// have no partition), "<base>-repartition-sink" and
// "<base>-repartition-source".
func repartition[K, V any](s KStream[K, V], base, option string, r topology.Repartition[K, V]) KStream[K, V] {
	if s.sb.repartitions[base] {
		s.sb.problem("repartition topic %q is made twice; name the operations (Grouped.Name, Repartitioned.Name) apart", base+"-repartition")
	}
	s.sb.repartitions[base] = true
	// Kafka Streams always draws the three names, to keep the counter where
	// older versions left it, and uses them when base is generated.
	sinkN, filterN, sourceN := s.sb.newName(sinkName), s.sb.newName(filterName), s.sb.newName(sourceName)
	if !generatedName.MatchString(base) {
		sinkN, filterN, sourceN = base+"-repartition-sink", base+"-repartition-filter", base+"-repartition-source"
	}
	r.SinkName, r.SourceName = sinkN, sourceN
	s.sb.needSerdes(base+"-repartition", option, r.KeySerde == nil, r.ValueSerde == nil, sinkN, sourceN)
	// A null key has no partition; Kafka Streams drops it here without
	// counting. A key type that cannot be nil passes straight through.
	pass := processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, V]) error { return ctx.Forward(rec) })
	if isNil := nilTest[K](); isNil != nil {
		pass = processor.Func(func(ctx processor.Context[K, V], rec processor.Record[K, V]) error {
			if isNil(rec.Key) {
				return nil
			}
			return ctx.Forward(rec)
		})
	}
	filter := topology.AddProcessor(s.sb.b, filterN, pass, s.node)
	n := topology.AddRepartition(s.sb.b, base, r, filter)
	return KStream[K, V]{sb: s.sb, node: n, keySerde: r.KeySerde, valueSerde: r.ValueSerde}
}

// generatedName matches a name the builder generated, as Kafka Streams
// tells them apart.
var generatedName = regexp.MustCompile(`^KSTREAM.*-[0-9]{10}$`)

// nilTest returns a test of whether a T is nil, a Kafka null, which a
// repartition or an aggregation drops: a nil pointer, map, slice,
// interface, channel or function. For a type that cannot be nil it returns
// nil, so that the per-record path skips the test (see null).
func nilTest[T any]() func(T) bool {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Chan, reflect.Func:
		return func(v T) bool { return reflect.ValueOf(&v).Elem().IsNil() }
	}
	return nil
}

// null reports whether v is nil by test, a nilTest.
func null[T any](test func(T) bool, v T) bool { return test != nil && test(v) }

// keyKeeping wraps supplier's processors so that every record they forward
// while processing a record has that record's key, as Kafka Streams'
// FixedKeyProcessor: ProcessValues never needs a repartition downstream.
func keyKeeping[K, V, V2 any](supplier processor.Supplier[K, V, K, V2]) processor.Supplier[K, V, K, V2] {
	return func() processor.Processor[K, V, K, V2] {
		return &fixedKey[K, V, V2]{p: supplier()}
	}
}

type fixedKey[K, V, V2 any] struct {
	p   processor.Processor[K, V, K, V2]
	ctx fixedKeyContext[K, V2]
}

type fixedKeyContext[K, V any] struct {
	processor.Context[K, V]
	key    K
	inside bool // processing a record: forwards get its key
}

func (c *fixedKeyContext[K, V]) Forward(rec processor.Record[K, V]) error {
	if c.inside {
		rec.Key = c.key
	}
	return c.Context.Forward(rec)
}

func (c *fixedKeyContext[K, V]) ForwardTo(child string, rec processor.Record[K, V]) error {
	if c.inside {
		rec.Key = c.key
	}
	return c.Context.ForwardTo(child, rec)
}

func (f *fixedKey[K, V, V2]) Init(ctx processor.Context[K, V2]) error {
	f.ctx.Context = ctx
	return f.p.Init(&f.ctx)
}

func (f *fixedKey[K, V, V2]) Process(rec processor.Record[K, V]) error {
	f.ctx.key, f.ctx.inside = rec.Key, true
	defer func() { f.ctx.inside = false }()
	return f.p.Process(rec)
}

func (f *fixedKey[K, V, V2]) Close() error { return f.p.Close() }
