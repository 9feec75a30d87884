package kstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
	"github.com/gostreams/streams/window"
)

// Name prefixes of Kafka Streams' KStreamImpl for stream-stream joins.
const (
	windowedName    = "KSTREAM-WINDOWED-"
	joinThisName    = "KSTREAM-JOINTHIS-"
	joinOtherName   = "KSTREAM-JOINOTHER-"
	outerThisName   = "KSTREAM-OUTERTHIS-"
	outerOtherName  = "KSTREAM-OUTEROTHER-"
	outerSharedName = "KSTREAM-OUTERSHARED-"
)

// StreamJoined says how a stream-stream join (Join, LeftJoin, OuterJoin)
// keeps its state, as Kafka Streams' StreamJoined. A zero StreamJoined
// keeps in-memory, change-logged stores with generated names and the
// streams' serdes.
//
// A join keeps each side's records in a window store that retains
// duplicates, for the window size plus the grace period. A left or outer
// join also keeps, in a key-value store the two sides share, the records
// that have not found a partner yet, until their window closes.
type StreamJoined[K, V1, V2 any] struct {
	// KeySerde, ValueSerde (the left stream's values) and OtherValueSerde
	// (the right stream's) write the stores, and the repartition topics when
	// a side needs one. Default: the streams' serdes.
	KeySerde        serde.Serde[K]
	ValueSerde      serde.Serde[V1]
	OtherValueSerde serde.Serde[V2]
	// Name names the join's processors, "<Name>-this-windowed",
	// "<Name>-other-windowed", "<Name>-this-join" (or -outer-this-join),
	// "<Name>-other-join" (or -outer-other-join) and "<Name>-merge", and
	// the repartition topics of sides whose key changed,
	// "<Name>-left-repartition" and "<Name>-right-repartition". It does not
	// name the stores. Default: generated (KSTREAM-JOINTHIS-0000000004, …),
	// the repartition topics after the streams' nodes.
	Name string
	// StoreName is the base of the stores' names:
	// "<StoreName>-this-join-store", "<StoreName>-other-join-store" (with
	// -outer- before this or other on the outer sides), and
	// "<StoreName>-left-shared-join-store" or
	// "<StoreName>-outer-shared-join-store". Their changelogs are
	// "<application.id>-<store>-changelog". Default: after the generated
	// processor names, "KSTREAM-JOINTHIS-0000000004-store" and
	// "KSTREAM-OUTERSHARED-0000000004-store".
	StoreName string
	// ThisStore and OtherStore make the window stores of the left and the
	// right stream's records; they are called with the join's retention
	// and window size and must retain duplicates. Default: in memory
	// (state.InMemoryWindowStore).
	ThisStore, OtherStore window.WindowStoreFunc
	// OuterStore makes the shared store of a left or outer join's records
	// that found no partner yet. Default: in memory. Give a persistent one
	// with persistent window stores, or a restart restores it from its
	// changelog.
	OuterStore KeyValueStoreFunc
	// LoggingDisabled turns off the stores' changelogs: their state is lost
	// with the instance.
	LoggingDisabled bool
	// LogConfig is the changelog topics' configuration. The window stores'
	// changelogs get cleanup.policy=delete whatever it says, as in Kafka
	// Streams: their records never repeat a key.
	LogConfig map[string]string
}

// Join joins left and right by key within windows: every record of one
// stream meets every record of the other with the same key whose time lies
// within the window (for a left record at t, right records in
// [t - Before, t + After]; for a right record, mirrored), and each pair
// gives one record, joiner(key, leftValue, rightValue), timed at the later
// of the two. The result has the left stream's key serde; its value serde
// is unknown unless VR is a stock type.
//
// As in Kafka Streams, records with a nil key or value (of a pointer,
// slice, map or interface type) are dropped and counted
// (processor.Context.DroppedRecord), and a record is dropped from its
// stream's window store, and counted, once it is older than the store's
// retention (window size plus grace) behind the latest record of its
// stream: it still meets the records of the other stream that are kept.
//
// If an operation may have changed a stream's key (Map, SelectKey,
// Process, …), the join reads it through a repartition topic first, so
// that both streams' records of a key reach the same task; the two sides'
// topics must have the same number of partitions, which the app checks
// when it starts.
func Join[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(key K, left V1, right V2) VR, windows window.JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	return streamJoin(innerJoin, left, right, func(key K, l V1, _ bool, r V2, _ bool) VR { return joiner(key, l, r) }, windows, joined)
}

// LeftJoin is Join that also gives a result for every left record that
// meets no right record: joiner(key, leftValue, zero, false), timed at the
// left record. That result is emitted once the record's window has closed
// (stream time past its time + After + Grace) and no partner came, as in
// Kafka Streams since 3.1: until then it waits in the join's shared store,
// which is change-logged, so a restart neither loses nor repeats it. A left
// record that comes when its window has already ended (its time + After
// before stream time) and meets no right record gets its result at once.
//
// A left record with a nil key, which can join nothing, gets its result at
// once too (Kafka Streams' KIP-962); a right one is dropped.
func LeftJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(key K, left V1, right V2, hasRight bool) VR, windows window.JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	return streamJoin(leftJoin, left, right, func(key K, l V1, _ bool, r V2, hasR bool) VR { return joiner(key, l, r, hasR) }, windows, joined)
}

// OuterJoin is LeftJoin for both streams: a left record that meets no
// right record gives joiner(key, leftValue, true, zero, false), a right
// record that meets no left record joiner(key, zero, false, rightValue,
// true), each once its window has closed (a right record's window ends at
// its time + Before).
func OuterJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(key K, left V1, hasLeft bool, right V2, hasRight bool) VR, windows window.JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	return streamJoin(outerJoin, left, right, joiner, windows, joined)
}

type joinKind int

const (
	innerJoin joinKind = iota
	leftJoin
	outerJoin
)

func (k joinKind) String() string {
	switch k {
	case leftJoin:
		return "LeftJoin"
	case outerJoin:
		return "OuterJoin"
	}
	return "Join"
}

// leftOuter says the left records that meet nothing give results;
// rightOuter, the right ones.
func (k joinKind) leftOuter() bool  { return k != innerJoin }
func (k joinKind) rightOuter() bool { return k == outerJoin }

// fullJoiner is every joiner in one shape: a side is missing (has false,
// its value zero) only in a left or outer join's result for a record that
// met nothing.
type fullJoiner[K, V1, V2, VR any] func(key K, left V1, hasLeft bool, right V2, hasRight bool) VR

// streamJoin adds a stream-stream join, with Kafka Streams' nodes and
// names (KStreamImpl.doJoin, KStreamImplJoin.join): the repartitions
// (three names each), the two WINDOWED processors that put each side's
// records into its window store, JOINTHIS (OUTERTHIS) and JOINOTHER
// (OUTEROTHER) that look them up in the other side's, and MERGE.
func streamJoin[K, V1, V2, VR any](kind joinKind, left KStream[K, V1], right KStream[K, V2], joiner fullJoiner[K, V1, V2, VR], w window.JoinWindows, joined []StreamJoined[K, V1, V2]) KStream[K, VR] {
	sb := left.sb
	var j StreamJoined[K, V1, V2]
	if len(joined) > 0 {
		j = joined[0]
	}
	if right.sb != sb {
		sb.problem("%s of streams from two StreamsBuilders; join streams of the same builder", kind)
	}
	if left.keyChanged {
		left = joinRepartition(left, j.Name, "-left", "StreamJoined", or(j.KeySerde, left.keySerde), or(j.ValueSerde, left.valueSerde))
	}
	if right.keyChanged {
		right = joinRepartition(right, j.Name, "-right", "StreamJoined", or(j.KeySerde, right.keySerde), or(j.OtherValueSerde, right.valueSerde))
	}

	thisWindowed := sb.suffixedName(j.Name, "-this-windowed", windowedName)
	otherWindowed := sb.suffixedName(j.Name, "-other-windowed", windowedName)
	thisPrefix, thisSuffix := joinThisName, "-this-join"
	if kind.rightOuter() {
		thisPrefix, thisSuffix = outerThisName, "-outer-this-join"
	}
	otherPrefix, otherSuffix := joinOtherName, "-other-join"
	if kind.leftOuter() {
		otherPrefix, otherSuffix = outerOtherName, "-outer-other-join"
	}
	thisGenerated, otherGenerated := sb.newName(thisPrefix), sb.newName(otherPrefix)
	thisJoin, otherJoin := thisGenerated, otherGenerated
	if j.Name != "" {
		thisJoin, otherJoin = j.Name+thisSuffix, j.Name+otherSuffix
	}
	merge := sb.suffixedName(j.Name, "-merge", mergeName)

	thisStore, otherStore := thisGenerated+"-store", otherGenerated+"-store"
	if j.StoreName != "" {
		thisStore, otherStore = j.StoreName+thisSuffix+"-store", j.StoreName+otherSuffix+"-store"
	}
	var sharedStore string
	if kind.leftOuter() {
		switch {
		case j.StoreName != "" && kind.rightOuter():
			sharedStore = j.StoreName + "-outer-shared-join-store"
		case j.StoreName != "":
			sharedStore = j.StoreName + "-left-shared-join-store"
		default:
			sharedStore = outerSharedName + thisGenerated[len(thisPrefix):] + "-store"
		}
	}

	if err := w.Validate(); err != nil {
		sb.problem("%s %q: %v", kind, merge, err)
	}
	ks := or(j.KeySerde, or(left.keySerde, right.keySerde))
	vs1, vs2 := or(j.ValueSerde, left.valueSerde), or(j.OtherValueSerde, right.valueSerde)
	sb.needSerdes(thisStore, "StreamJoined", ks == nil, vs1 == nil)
	sb.needSerdes(otherStore, "StreamJoined", false, vs2 == nil)

	before, after, grace := w.Before.Milliseconds(), w.After.Milliseconds(), w.Grace.Milliseconds()
	what := kind.String() + "'s joiner"
	isNilK, isNilV1, isNilV2 := nilTest[K](), nilTest[V1](), nilTest[V2]()
	var zero1 V1
	var zero2 V2
	alone := func(c *call, key K, leftSide bool, raw []byte) (VR, error) {
		if leftSide {
			v, err := vs1.Deserialize(raw)
			if err != nil {
				var vr VR
				return vr, fmt.Errorf("kstream: %s: reading a left value of store %q: %w", c.name, sharedStore, err)
			}
			return tryJoin(c, joiner, key, v, true, zero2, false)
		}
		v, err := vs2.Deserialize(raw)
		if err != nil {
			var vr VR
			return vr, fmt.Errorf("kstream: %s: reading a right value of store %q: %w", c.name, sharedStore, err)
		}
		return tryJoin(c, joiner, key, zero1, false, v, true)
	}

	thisW := topology.AddProcessor(sb.b, thisWindowed, joinWindowSupplier(thisStore, isNilK, isNilV1), left.node)
	otherW := topology.AddProcessor(sb.b, otherWindowed, joinWindowSupplier(otherStore, isNilK, isNilV2), right.node)
	thisJ := topology.AddProcessor(sb.b, thisJoin, func() processor.Processor[K, V1, K, VR] {
		return &joinProcessor[K, V1, V2, VR]{
			call: call{name: thisJoin, what: what}, leftSide: true, outer: kind.leftOuter(),
			otherStore: otherStore, sharedStore: sharedStore, keySerde: ks, thisSerde: vs1,
			before: before, after: after, windowsBefore: before, windowsAfter: after, grace: grace,
			isNilK: isNilK, isNilV: isNilV1,
			pair:   func(c *call, key K, l V1, r V2) (VR, error) { return tryJoin(c, joiner, key, l, true, r, true) },
			single: func(c *call, key K, l V1) (VR, error) { return tryJoin(c, joiner, key, l, true, zero2, false) },
			alone:  alone,
		}
	}, thisW)
	otherJ := topology.AddProcessor(sb.b, otherJoin, func() processor.Processor[K, V2, K, VR] {
		return &joinProcessor[K, V2, V1, VR]{
			call: call{name: otherJoin, what: what}, leftSide: false, outer: kind.rightOuter(),
			otherStore: thisStore, sharedStore: sharedStore, keySerde: ks, thisSerde: vs2,
			before: after, after: before, windowsBefore: before, windowsAfter: after, grace: grace,
			isNilK: isNilK, isNilV: isNilV2,
			pair:   func(c *call, key K, r V2, l V1) (VR, error) { return tryJoin(c, joiner, key, l, true, r, true) },
			single: func(c *call, key K, r V2) (VR, error) { return tryJoin(c, joiner, key, zero1, false, r, true) },
			alone:  alone,
		}
	}, otherW)
	n := topology.AddProcessor(sb.b, merge, processor.Func(func(ctx processor.Context[K, VR], rec processor.Record[K, VR]) error {
		return ctx.Forward(rec)
	}), thisJ, otherJ)

	// The stores, in Kafka Streams' order, which is the order Describe
	// lists a processor's stores in.
	if ks != nil && vs1 != nil && vs2 != nil {
		size := max(w.Size(), time.Millisecond) // the stores' windows are at least 1ms
		retention := max(w.Retention(), size)
		sb.b.AddStateStore(joinWindowStore(sb, kind, thisStore, j.ThisStore, retention, size, ks, vs1, j.LoggingDisabled, j.LogConfig), thisWindowed, otherJoin)
		sb.b.AddStateStore(joinWindowStore(sb, kind, otherStore, j.OtherStore, retention, size, ks, vs2, j.LoggingDisabled, j.LogConfig), otherWindowed, thisJoin)
		if sharedStore != "" {
			sup := state.InMemoryKeyValueStore(sharedStore)
			if j.OuterStore != nil {
				if sup = j.OuterStore(sharedStore); sup == nil {
					sb.problem("%s: StreamJoined.OuterStore made no store for %q", kind, sharedStore)
					sup = state.InMemoryKeyValueStore(sharedStore)
				}
			}
			b := state.NewKeyValueStoreBuilder(sup, serde.Bytes(), serde.Bytes())
			switch {
			case j.LoggingDisabled:
				b.WithLoggingDisabled()
			case j.LogConfig != nil:
				b.WithLoggingEnabled(j.LogConfig)
			}
			sb.b.AddStateStore(b, thisJoin, otherJoin)
		}
	}
	return KStream[K, VR]{sb: sb, node: n, keySerde: ks, valueSerde: stock[VR]()}
}

// joinWindowStore is the builder of a join's window store named name, made
// by f (default in memory), which must keep duplicates with the join's
// retention and window size.
func joinWindowStore[K, V any](sb *StreamsBuilder, kind joinKind, name string, f window.WindowStoreFunc, retention, size time.Duration,
	ks serde.Serde[K], vs serde.Serde[V], loggingDisabled bool, logConfig map[string]string) state.StoreBuilder {
	if f == nil {
		f = state.InMemoryWindowStore
	}
	sup := f(name, retention, size, true)
	switch {
	case sup == nil:
		sb.problem("%s: StreamJoined's store function made no store for %q", kind, name)
		sup = state.InMemoryWindowStore(name, retention, size, true)
	case sup.Name() != name:
		sb.problem("%s: StreamJoined's store function made store %q for %q; it must use the name it is given", kind, sup.Name(), name)
	case !sup.RetainDuplicates():
		sb.problem("%s: store %q does not retain duplicates; a join's window store must (its function is given retainDuplicates=true)", kind, name)
	case sup.Retention() != retention || sup.WindowSize() != size:
		sb.problem("%s: store %q has retention %v and window size %v, but the join windows need %v and %v; make it with the values its function is given",
			kind, name, sup.Retention(), sup.WindowSize(), retention, size)
	}
	b := state.NewWindowStoreBuilder(sup, ks, vs)
	if loggingDisabled {
		return b.WithLoggingDisabled()
	}
	// As in Kafka Streams (StreamJoinedStoreFactory): the records of a store
	// that retains duplicates never share a key, so there is nothing to
	// compact.
	cfg := map[string]string{}
	for k, v := range logConfig {
		cfg[k] = v
	}
	cfg["cleanup.policy"] = "delete"
	return b.WithLoggingEnabled(cfg)
}

// suffixedName is Kafka Streams' NamedInternal.suffixWithOrElseGet: named
// with suffix, or a new name with prefix; a new name is drawn either way.
func (sb *StreamsBuilder) suffixedName(named, suffix, prefix string) string {
	generated := sb.newName(prefix)
	if named != "" {
		return named + suffix
	}
	return generated
}

// joinRepartition routes s, whose key may have changed, through a
// repartition topic for a join (Kafka Streams' repartitionForJoin):
// "<named><suffix>-repartition", or after s's node. As in Kafka Streams,
// the three names of a repartition are drawn every time, and a stream
// joined again without a name reuses the repartition it made before.
func joinRepartition[K, V any](s KStream[K, V], named, suffix, option string, ks serde.Serde[K], vs serde.Serde[V]) KStream[K, V] {
	sb := s.sb
	base := s.node.Name()
	if named != "" {
		base = named + suffix
	}
	if prev, ok := sb.joinRepartitions[s.node.Name()].(KStream[K, V]); ok && base == s.node.Name() {
		sb.newName(sinkName)
		sb.newName(filterName)
		sb.newName(sourceName)
		return prev
	}
	r := repartition(s, base, option, topology.Repartition[K, V]{KeySerde: ks, ValueSerde: vs})
	sb.joinRepartitions[s.node.Name()] = r
	return r
}

// tryJoin calls the user's joiner under c.
func tryJoin[K, V1, V2, VR any](c *call, f fullJoiner[K, V1, V2, VR], key K, l V1, hasL bool, r V2, hasR bool) (vr VR, err error) {
	defer c.catch(&err)
	return f(key, l, hasL, r, hasR), nil
}

// joinWindowSupplier is Kafka Streams' KStreamJoinWindow: it forwards each
// record to its side's join processor and then puts it into the side's
// window store, where the other side finds it. A record with a nil key or
// value can join nothing and is not put.
func joinWindowSupplier[K, V any](store string, isNilK func(K) bool, isNilV func(V) bool) processor.Supplier[K, V, K, V] {
	return func() processor.Processor[K, V, K, V] {
		return &joinWindow[K, V]{store: store, isNilK: isNilK, isNilV: isNilV}
	}
}

type joinWindow[K, V any] struct {
	store   string
	isNilK  func(K) bool
	isNilV  func(V) bool
	ctx     processor.Context[K, V]
	w       state.WindowStore[K, V]
	dropped state.DroppedRecordsCounter // nil if the store does not count
}

func (p *joinWindow[K, V]) Init(ctx processor.Context[K, V]) error {
	p.ctx = ctx
	var err error
	if p.w, err = processor.GetStore[state.WindowStore[K, V]](ctx, p.store); err != nil {
		return err
	}
	p.dropped, _ = p.w.(state.DroppedRecordsCounter)
	return nil
}

func (p *joinWindow[K, V]) Process(rec processor.Record[K, V]) error {
	if err := p.ctx.Forward(rec); err != nil {
		return err
	}
	if null(p.isNilK, rec.Key) || null(p.isNilV, rec.Value) {
		return nil
	}
	var before int64
	if p.dropped != nil {
		before = p.dropped.DroppedRecords()
	}
	if err := p.w.Put(rec.Key, rec.Value, rec.Timestamp); err != nil {
		return err
	}
	// The store ignores a record older than its retention behind the
	// latest one: Kafka Streams counts it as dropped ("Skipping record for
	// expired segment").
	if p.dropped != nil && p.dropped.DroppedRecords() > before {
		p.ctx.DroppedRecord()
		md, _ := p.ctx.RecordMetadata()
		p.ctx.Logger().Warn("kstream: a join record is older than its window store keeps; it is not kept for records to come",
			"store", p.store, "timestamp", rec.Timestamp, "topic", md.Topic, "partition", md.Partition, "offset", md.Offset)
	}
	return nil
}

func (p *joinWindow[K, V]) Close() error { return nil }

// joinClock is the time the two join processors of a left or outer join
// share in a task (Kafka Streams' TimeTracker): the largest record time
// either has seen, and a lower bound of the times in the shared store (or
// math.MaxInt64), which spares a scan of the store when nothing can be due.
// Kafka Streams also throttles the scans by wall-clock time (one a second
// by default); we scan whenever something may be due, as Kafka Streams
// does with that interval set to 0, so that results do not depend on the
// wall clock.
type joinClock struct {
	streamTime, minTime int64
}

// joinClocks holds the joinClock of every running join task, keyed by the
// task's instance of the shared store, which both processors reach.
var joinClocks sync.Map // state.Store -> *joinClock

// joinProcessor is one side of a join (Kafka Streams' KStreamKStreamJoin):
// the left side's (VThis V1, VOther V2) or the right side's (VThis V2,
// VOther V1).
type joinProcessor[K, VThis, VOther, VR any] struct {
	call
	leftSide bool
	// outer: a record of this side that meets nothing gives a result.
	outer                   bool
	otherStore, sharedStore string
	keySerde                serde.Serde[K]
	thisSerde               serde.Serde[VThis]
	// before and after bound the other side's times a record meets, seen
	// from this side; windowsBefore and windowsAfter are the JoinWindows'.
	before, after, windowsBefore, windowsAfter, grace int64
	isNilK                                            func(K) bool
	isNilV                                            func(VThis) bool
	// pair is the joiner of a record and a partner; single, of a record of
	// this side with none; alone, of a record of either side (leftSide)
	// read from the shared store.
	pair   func(c *call, key K, this VThis, other VOther) (VR, error)
	single func(c *call, key K, this VThis) (VR, error)
	alone  func(c *call, key K, leftSide bool, raw []byte) (VR, error)

	ctx    processor.Context[K, VR]
	other  state.WindowStore[K, VOther]
	shared state.KeyValueStore[[]byte, []byte] // left and outer joins
	clock  *joinClock                          // with shared
}

func (p *joinProcessor[K, VThis, VOther, VR]) Init(ctx processor.Context[K, VR]) error {
	p.ctx, p.call.ctx = ctx, ctx
	var err error
	if p.other, err = processor.GetStore[state.WindowStore[K, VOther]](ctx, p.otherStore); err != nil {
		return err
	}
	if p.sharedStore == "" {
		return nil
	}
	if p.shared, err = processor.GetStore[state.KeyValueStore[[]byte, []byte]](ctx, p.sharedStore); err != nil {
		return err
	}
	c, _ := joinClocks.LoadOrStore(p.shared, &joinClock{streamTime: -1, minTime: math.MaxInt64})
	p.clock = c.(*joinClock)
	return nil
}

func (p *joinProcessor[K, VThis, VOther, VR]) Close() error {
	if p.shared != nil {
		joinClocks.Delete(p.shared)
	}
	return nil
}

func (p *joinProcessor[K, VThis, VOther, VR]) Process(rec processor.Record[K, VThis]) error {
	ts := rec.Timestamp.UnixMilli()
	if p.clock != nil {
		p.clock.streamTime = max(p.clock.streamTime, ts)
	}
	nilKey, nilValue := null(p.isNilK, rec.Key), null(p.isNilV, rec.Value)
	if p.outer && nilKey && !nilValue {
		// It can meet nothing: its result now (Kafka Streams' KIP-962).
		vr, err := p.single(&p.call, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		return p.ctx.Forward(processor.Derive(rec, rec.Key, vr))
	}
	if nilKey || nilValue {
		md, _ := p.ctx.RecordMetadata()
		p.ctx.Logger().Warn("kstream: skipping a join record with a nil key or value",
			"processor", p.name, "topic", md.Topic, "partition", md.Partition, "offset", md.Offset)
		p.ctx.DroppedRecord()
		return nil
	}
	var rawKey []byte
	if p.shared != nil {
		var err error
		if rawKey, err = p.keySerde.Serialize(rec.Key); err != nil {
			return fmt.Errorf("kstream: %s: serializing a key for store %q: %w", p.name, p.sharedStore, err)
		}
		if ts == p.clock.streamTime {
			if err := p.emitClosed(rec); err != nil {
				return err
			}
		}
	}

	from, to := max(0, ts-p.before), max(0, ts+p.after)
	matched := false
	for kv, err := range p.other.Fetch(rec.Key, time.UnixMilli(from), time.UnixMilli(to)) {
		if err != nil {
			return err
		}
		matched = true
		if p.shared != nil {
			// The partner no longer waits for a result of its own.
			if _, _, err := p.shared.Delete(sharedKey(kv.Key.UnixMilli(), !p.leftSide, rawKey)); err != nil {
				return err
			}
		}
		vr, err := p.pair(&p.call, rec.Key, rec.Value, kv.Value)
		if err != nil {
			return err
		}
		out := processor.Derive(rec, rec.Key, vr)
		if kv.Key.After(out.Timestamp) {
			out.Timestamp = kv.Key
		}
		if err := p.ctx.Forward(out); err != nil {
			return err
		}
	}
	if !p.outer || matched {
		return nil
	}
	if p.shared == nil || to < p.clock.streamTime {
		// Its window has ended already: Kafka Streams emits it now rather
		// than hold it (KStreamKStreamJoin's "out-of-order records").
		vr, err := p.single(&p.call, rec.Key, rec.Value)
		if err != nil {
			return err
		}
		return p.ctx.Forward(processor.Derive(rec, rec.Key, vr))
	}
	v, err := p.thisSerde.Serialize(rec.Value)
	if err != nil {
		return fmt.Errorf("kstream: %s: serializing a value for store %q: %w", p.name, p.sharedStore, err)
	}
	p.clock.minTime = min(p.clock.minTime, ts)
	return p.hold(sharedKey(ts, p.leftSide, rawKey), v)
}

// hold adds a value to the shared store's list under key.
func (p *joinProcessor[K, VThis, VOther, VR]) hold(key, v []byte) error {
	list, _, err := p.shared.Get(key)
	if err != nil {
		return err
	}
	list = binary.AppendUvarint(list, uint64(len(v)))
	return p.shared.Put(key, append(list, v...))
}

// emitClosed emits, with the other side missing, the records in the
// shared store whose window has closed, and deletes them, as Kafka
// Streams' emitNonJoinedOuterRecords: the store is read in time order
// (then right before left, then by key) until a record of each side is
// found whose window is still open. The results are timed at the held
// record and carry the headers of rec, the record being processed.
func (p *joinProcessor[K, VThis, VOther, VR]) emitClosed(rec processor.Record[K, VThis]) error {
	c := p.clock
	// Nothing can be due yet. The sum may overflow when minTime is
	// MaxInt64, as it does in Kafka Streams, which then scans.
	if c.minTime+p.after+p.grace >= c.streamTime {
		return nil
	}
	c.minTime = math.MaxInt64
	leftOpen, rightOpen := false, false
	for kv, err := range p.shared.All() {
		if err != nil {
			return err
		}
		ts, leftSide, rawKey, err := parseSharedKey(kv.Key)
		if err != nil {
			return fmt.Errorf("kstream: %s: store %q: %w", p.name, p.sharedStore, err)
		}
		c.minTime = ts
		if leftOpen && rightOpen {
			break
		}
		lookBack := p.windowsBefore
		if leftSide {
			lookBack = p.windowsAfter
		}
		if ts+lookBack+p.grace >= c.streamTime {
			if leftSide {
				leftOpen = true
			} else {
				rightOpen = true
			}
			continue
		}
		key, err := p.keySerde.Deserialize(rawKey)
		if err != nil {
			return fmt.Errorf("kstream: %s: reading a key of store %q: %w", p.name, p.sharedStore, err)
		}
		for list := kv.Value; len(list) > 0; {
			n, w := binary.Uvarint(list)
			if w <= 0 || uint64(len(list)-w) < n {
				return fmt.Errorf("kstream: %s: store %q holds a malformed value list under %x", p.name, p.sharedStore, kv.Key)
			}
			raw := list[w : w+int(n) : w+int(n)]
			list = list[w+int(n):]
			vr, err := p.alone(&p.call, key, leftSide, raw)
			if err != nil {
				return err
			}
			if err := p.ctx.Forward(processor.Record[K, VR]{Key: key, Value: vr, Timestamp: time.UnixMilli(ts).UTC(), Headers: rec.Headers}); err != nil {
				return err
			}
		}
		if _, _, err := p.shared.Delete(kv.Key); err != nil {
			return err
		}
	}
	return nil
}

// sharedKey is a key of the shared store: the record's time (8 bytes,
// big-endian, sign bit flipped so that byte order is time order), its side
// (1 left, 0 right, as Kafka Streams' TimestampedKeyAndJoinSide), and its
// serialized key.
func sharedKey(ts int64, leftSide bool, rawKey []byte) []byte {
	b := make([]byte, 9, 9+len(rawKey))
	binary.BigEndian.PutUint64(b, uint64(ts)^(1<<63))
	if leftSide {
		b[8] = 1
	}
	return append(b, rawKey...)
}

var errSharedKey = errors.New("malformed key: shorter than its time and side")

func parseSharedKey(b []byte) (ts int64, leftSide bool, rawKey []byte, err error) {
	if len(b) < 9 {
		return 0, false, nil, errSharedKey
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), b[8] == 1, b[9:], nil
}
