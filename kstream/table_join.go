package kstream

import (
	"time"

	"slices"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
	"github.com/gostreams/streams/topology"
)

// Name prefixes of Kafka Streams' KTableImpl joins.
const (
	tableJoinThisName  = "KTABLE-JOINTHIS-"
	tableJoinOtherName = "KTABLE-JOINOTHER-"
	tableMergeName     = "KTABLE-MERGE-"
)

// tableView is how an operation reads a table's current row of a key
// while the topology runs: Kafka Streams' KTableValueGetterSupplier. A
// table kept in a store is read from it; a table derived statelessly (a
// filter, a mapping, an unmaterialized join) reads what it derives from
// and applies its function, so that no store of its own is needed.
type tableView[K, V any] struct {
	// stores are the stores a lookup reads, which the looking-up
	// processor must be connected to.
	stores []string
	// open returns the lookup of one processor instance, ctx being its
	// context.
	open func(ctx lookupContext) (lookup[K, V], error)
	// versioned says the rows come from a versioned store, which keeps
	// them for history: openAsOf then returns a lookup of the row as of
	// a time (a stream-table join's).
	versioned bool
	history   time.Duration
	openAsOf  func(ctx lookupContext) (lookupAsOf[K, V], error)
}

// lookupAsOf returns a versioned table's row of key as it was at asOf.
type lookupAsOf[K, V any] func(key K, asOf time.Time) (state.ValueAndTimestamp[V], bool, error)

// lookup returns a table's current row of key, with the timestamp of the
// record that last changed it, and false when it has none.
type lookup[K, V any] func(key K) (state.ValueAndTimestamp[V], bool, error)

// lookupContext is what a lookup needs of the processor that opens it: its
// stores, and the record it processes to name in a panic's error.
type lookupContext interface {
	processor.StoreGetter
	RecordMetadata() (processor.RecordMetadata, bool)
}

// valueView is how t's rows are read by key, materializing the store they
// are read from (a join needs it, as Kafka Streams' valueGetterSupplier
// forces a table source's store); nil when t keeps no rows to read: a
// windowed aggregation's table, or a suppressed one.
func (t KTable[K, V]) valueView() *tableView[K, V] {
	if t.lookup != nil {
		return t.lookup()
	}
	if t.rows == nil || t.store == "" || t.store != t.rows.store {
		return nil
	}
	t.materialize()
	if t.rows.versioned {
		return versionedView[K, V](t.store, t.rows.history)
	}
	return storeView[K, V](t.store)
}

// versionedView reads a table's rows from its versioned store: the latest,
// or as of a time.
func versionedView[K, V any](store string, history time.Duration) *tableView[K, V] {
	versions := func(ctx lookupContext) (state.VersionedKeyValueStore[K, V], error) {
		return processor.GetStore[state.VersionedKeyValueStore[K, V]](ctx, store)
	}
	row := func(r state.VersionedRecord[V], ok bool, err error) (state.ValueAndTimestamp[V], bool, error) {
		return state.ValueAndTimestamp[V]{Value: r.Value, Timestamp: r.Timestamp}, ok, err
	}
	return &tableView[K, V]{stores: []string{store}, versioned: true, history: history,
		open: func(ctx lookupContext) (lookup[K, V], error) {
			vs, err := versions(ctx)
			if err != nil {
				return nil, err
			}
			return func(key K) (state.ValueAndTimestamp[V], bool, error) { return row(vs.Get(key)) }, nil
		},
		openAsOf: func(ctx lookupContext) (lookupAsOf[K, V], error) {
			vs, err := versions(ctx)
			if err != nil {
				return nil, err
			}
			return func(key K, asOf time.Time) (state.ValueAndTimestamp[V], bool, error) {
				return row(vs.GetAsOf(key, asOf))
			}, nil
		}}
}

// storeView reads a table's rows from its timestamped store.
func storeView[K, V any](store string) *tableView[K, V] {
	return &tableView[K, V]{stores: []string{store}, open: func(ctx lookupContext) (lookup[K, V], error) {
		kv, err := processor.GetStore[state.TimestampedKeyValueStore[K, V]](ctx, store)
		if err != nil {
			return nil, err
		}
		return kv.Get, nil
	}}
}

// derivedView is the view of a table derived statelessly from parent by
// the processor name: derive turns a parent row into the table's (false:
// no row), running the user's function what through c.
func derivedView[K, V, V2 any](parent KTable[K, V], name, what string, derive func(c *call, key K, v V) (V2, bool, error)) func() *tableView[K, V2] {
	return func() *tableView[K, V2] {
		p := parent.valueView()
		if p == nil {
			return nil
		}
		// through turns a parent row into the table's.
		through := func(c *call, key K, row state.ValueAndTimestamp[V], ok bool, err error) (state.ValueAndTimestamp[V2], bool, error) {
			if err != nil || !ok {
				return state.ValueAndTimestamp[V2]{}, false, err
			}
			v, ok, err := derive(c, key, row.Value)
			if err != nil || !ok {
				return state.ValueAndTimestamp[V2]{}, false, err
			}
			return state.ValueAndTimestamp[V2]{Value: v, Timestamp: row.Timestamp}, true, nil
		}
		view := &tableView[K, V2]{stores: p.stores, versioned: p.versioned, history: p.history,
			open: func(ctx lookupContext) (lookup[K, V2], error) {
				get, err := p.open(ctx)
				if err != nil {
					return nil, err
				}
				c := &call{name: name, what: what, ctx: ctx}
				return func(key K) (state.ValueAndTimestamp[V2], bool, error) {
					row, ok, err := get(key)
					return through(c, key, row, ok, err)
				}, nil
			}}
		if p.openAsOf != nil {
			view.openAsOf = func(ctx lookupContext) (lookupAsOf[K, V2], error) {
				get, err := p.openAsOf(ctx)
				if err != nil {
					return nil, err
				}
				c := &call{name: name, what: what, ctx: ctx}
				return func(key K, asOf time.Time) (state.ValueAndTimestamp[V2], bool, error) {
					row, ok, err := get(key, asOf)
					return through(c, key, row, ok, err)
				}, nil
			}
		}
		return view
	}
}

// A table-table join's joinKind (stream_join.go) says which side's rows
// make a result on their own: innerJoin both sides', leftJoin every row of
// the left table's, outerJoin every row of either table's.

// TableJoin joins two tables on their key, as Kafka Streams' KTable.join:
// the result has a row for each key that has a row in both,
// joiner(key, value, otherValue). Each update of either side looks up the other side's
// current row, so both tables are materialized (their stores, or the
// stores of the tables they derive from); an update forwards the result's
// new value and its old one, so that an aggregation downstream
// (GroupByTable) subtracts what a row no longer contributes. A result's
// timestamp is the later of the two rows'. A joiner that returns nil (of a
// pointer, slice, map or interface VR) makes no row, as Kafka Streams'
// null: the key's result is deleted.
//
// The two tables must be co-partitioned (their topics have as many
// partitions and are partitioned by the same key): they are read by the
// same tasks, which the app checks at start.
//
// The result is kept in a store of its own only when a materialized is
// given that does more than name the join (a Name, serdes, a store,
// caching or logging settings), as Kafka Streams' join with a
// Materialized; otherwise a lookup of the result (by a join downstream)
// joins the two sides' rows again. Materialized.Named names the join's
// processors: "<Named>" (the merge), "<Named>-join-this" and
// "<Named>-join-other", in place of KTABLE-MERGE-…, KTABLE-JOINTHIS-… and
// KTABLE-JOINOTHER-….
func TableJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, value V, otherValue VO) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	return tableJoin(innerJoin, t, other, func(key K, v V, _ bool, vo VO, _ bool) VR { return joiner(key, v, vo) }, materialized)
}

// TableLeftJoin is TableJoin that keeps every row of t, as Kafka Streams'
// KTable.leftJoin: a key with no row in other gives joiner(key, value,
// zero, false).
func TableLeftJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, value V, otherValue VO, hasOther bool) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	return tableJoin(leftJoin, t, other, func(key K, v V, _ bool, vo VO, hasVO bool) VR { return joiner(key, v, vo, hasVO) }, materialized)
}

// TableOuterJoin is TableJoin that keeps every row of either table, as
// Kafka Streams' KTable.outerJoin: a key with a row in one table only
// gives joiner(key, value, true, zero, false) or joiner(key, zero, false,
// otherValue, true).
func TableOuterJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, value V, hasValue bool, otherValue VO, hasOther bool) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	return tableJoin(outerJoin, t, other, joiner, materialized)
}

// onlyNames says whether m does nothing but name an operation's processor:
// a join given such a Materialized is Kafka Streams' join with a Named and
// no Materialized, and keeps no store.
func (m Materialized[K, V]) onlyNames() bool {
	return m.Name == "" && m.KeySerde == nil && m.ValueSerde == nil && m.KeyValueStore == nil &&
		m.WindowStore == nil && m.SessionStore == nil && !m.Caching && !m.LoggingDisabled && m.LogConfig == nil
}

func tableJoin[K, V, VO, VR any](kind joinKind, t KTable[K, V], other KTable[K, VO], joiner fullJoiner[K, V, VO, VR], materialized []Materialized[K, VR]) KTable[K, VR] {
	sb := t.sb
	m := materialized0(materialized)
	keep := len(materialized) > 0 && !m.onlyNames()
	// Kafka Streams' order: the result store's name (its Materialized is
	// made before the join), the merge's, then this side's and the other's,
	// both drawn even when named.
	var store string
	if keep {
		store = m.storeName(sb, tableMergeName)
	}
	mergeN := sb.name([]Named{m.Named}, tableMergeName)
	thisN, otherN := sb.newName(tableJoinThisName), sb.newName(tableJoinOtherName)
	if m.Named != "" {
		thisN, otherN = string(m.Named)+"-join-this", string(m.Named)+"-join-other"
	}
	res := KTable[K, VR]{sb: sb, keySerde: or(m.KeySerde, or(t.keySerde, other.keySerde)), valueSerde: or(m.ValueSerde, inherit[VR](t.valueSerde))}
	if other.sb != sb {
		sb.problem("%s: the two tables of a join come from different StreamsBuilders", mergeN)
		return res
	}
	thisView, otherView := t.valueView(), other.valueView()
	if thisView == nil || otherView == nil || t.plain != nil || other.plain != nil {
		sb.problem("%s: a table-table join looks up both tables' rows, and a windowed aggregation's or a suppressed table keeps none to look up", mergeN)
		return res
	}
	thisMode, otherMode := sideModes(kind)
	isNil, isNilR := nilTest[K](), nilTest[VR]()
	thisNode := topology.AddProcessor(sb.b, thisN, func() processor.Processor[K, Change[V], K, Change[VR]] {
		return &tableJoiner[K, V, VO, VR]{call: call{name: thisN, what: "the joiner"}, mode: thisMode, view: otherView, join: joiner, isNil: isNil, isNilR: isNilR}
	}, t.node)
	reversed := func(key K, vo VO, hasVO bool, v V, hasV bool) VR { return joiner(key, v, hasV, vo, hasVO) }
	otherNode := topology.AddProcessor(sb.b, otherN, func() processor.Processor[K, Change[VO], K, Change[VR]] {
		return &tableJoiner[K, VO, V, VR]{call: call{name: otherN, what: "the joiner"}, mode: otherMode, view: thisView, join: reversed, isNil: isNil, isNilR: isNilR}
	}, other.node)
	res.node = topology.AddProcessor(sb.b, mergeN, func() processor.Processor[K, Change[VR], K, Change[VR]] {
		return &tableJoinMerger[K, VR]{store: store}
	}, thisNode, otherNode)
	sb.b.ConnectProcessorAndStateStores(thisN, otherView.stores...)
	sb.b.ConnectProcessorAndStateStores(otherN, thisView.stores...)
	if keep {
		res.rows, res.store = &rows{store: store, materialized: true}, store
		res.addStore(m, store, mergeN)
		return res
	}
	// Both sides are materialized: the result's updates always carry old
	// values, though it keeps no store of its own.
	res.rows = &rows{materialized: true}
	jv := joinView(kind, mergeN, thisView, otherView, joiner)
	res.lookup = func() *tableView[K, VR] { return jv }
	return res
}

// sideMode is what one side's processor of a join does with an update of
// its own table's row, given the other side's row (Kafka Streams'
// KTableKTableInnerJoin, LeftJoin, RightJoin and OuterJoin processors).
type sideMode int

const (
	// bothRows: a result needs the other side's row and this one's.
	bothRows sideMode = iota
	// ownRow: this side's row makes a result on its own (the left side of
	// a left join).
	ownRow
	// otherRow: the other side's row makes a result on its own (the right
	// side of a left join): each update changes the result of the other
	// side's row.
	otherRow
	// eitherRow: either row makes a result (an outer join).
	eitherRow
)

// sideModes are the modes of the join's left (this) and right (other)
// processors.
func sideModes(kind joinKind) (this, other sideMode) {
	switch kind {
	case leftJoin:
		return ownRow, otherRow
	case outerJoin:
		return eitherRow, eitherRow
	}
	return bothRows, bothRows
}

// tableJoiner joins each update of its table's row (values A) with the
// other table's current row of the key (values B), which it looks up.
type tableJoiner[K, A, B, VR any] struct {
	call
	mode  sideMode
	view  *tableView[K, B]
	join  fullJoiner[K, A, B, VR]
	isNil func(K) bool
	// isNilR tests a result for nil, which is no row (Kafka Streams'
	// null): nil for a result type that cannot be nil.
	isNilR func(VR) bool
	get    lookup[K, B]
	ctx    processor.Context[K, Change[VR]]
}

func (j *tableJoiner[K, A, B, VR]) Init(ctx processor.Context[K, Change[VR]]) error {
	j.ctx, j.call.ctx = ctx, ctx
	var err error
	j.get, err = j.view.open(ctx)
	return err
}

func (j *tableJoiner[K, A, B, VR]) Process(rec processor.Record[K, Change[A]]) error {
	if null(j.isNil, rec.Key) {
		// A join needs a key to look up: Kafka Streams drops these too.
		j.ctx.DroppedRecord()
		return nil
	}
	other, found, err := j.get(rec.Key)
	if err != nil {
		return err
	}
	in := rec.Value
	var zero A
	if !in.HasNew {
		in.New = zero
	}
	if !in.HasOld {
		in.Old = zero
	}
	var out Change[VR]
	switch j.mode {
	case bothRows, ownRow:
		if !found && j.mode == bothRows {
			return nil // no result before, none now
		}
		out.HasNew, out.HasOld = in.HasNew, in.HasOld
	case otherRow:
		if !found {
			return nil
		}
		out.HasNew, out.HasOld = true, true
	case eitherRow:
		out.HasNew, out.HasOld = found || in.HasNew, found || in.HasOld
	}
	if !out.HasNew && !out.HasOld {
		return nil // neither before nor after: nothing changes downstream
	}
	if out.HasNew {
		if out.New, err = tryJoin(&j.call, j.join, rec.Key, in.New, in.HasNew, other.Value, found); err != nil {
			return err
		}
		out.HasNew = !null(j.isNilR, out.New)
	}
	if out.HasOld {
		if out.Old, err = tryJoin(&j.call, j.join, rec.Key, in.Old, in.HasOld, other.Value, found); err != nil {
			return err
		}
		out.HasOld = !null(j.isNilR, out.Old)
	}
	if !out.HasNew && !out.HasOld {
		return nil
	}
	ts := rec.Timestamp
	if found && other.Timestamp.After(ts) {
		ts = other.Timestamp
	}
	return j.ctx.Forward(processor.Record[K, Change[VR]]{Key: rec.Key, Value: out, Timestamp: ts, Headers: rec.Headers})
}

func (j *tableJoiner[K, A, B, VR]) Close() error { return nil }

// tableJoinMerger forwards both sides' results as one table, Kafka
// Streams' KTableKTableJoinMerger: kept in store, when the join is
// materialized.
type tableJoinMerger[K, VR any] struct {
	store string
	kv    state.TimestampedKeyValueStore[K, VR]
	ctx   processor.Context[K, Change[VR]]
}

func (m *tableJoinMerger[K, VR]) Init(ctx processor.Context[K, Change[VR]]) error {
	m.ctx = ctx
	if m.store == "" {
		return nil
	}
	var err error
	m.kv, err = processor.GetStore[state.TimestampedKeyValueStore[K, VR]](ctx, m.store)
	return err
}

func (m *tableJoinMerger[K, VR]) Process(rec processor.Record[K, Change[VR]]) error {
	if m.kv != nil {
		var err error
		if rec.Value.HasNew {
			err = m.kv.Put(rec.Key, state.ValueAndTimestamp[VR]{Value: rec.Value.New, Timestamp: rec.Timestamp})
		} else {
			_, _, err = m.kv.Delete(rec.Key)
		}
		if err != nil {
			return err
		}
	}
	return m.ctx.Forward(rec)
}

func (m *tableJoinMerger[K, VR]) Close() error { return nil }

// joinView is the view of an unmaterialized join's result: both sides'
// rows, joined again (Kafka Streams' KTableKTable*JoinValueGetter).
func joinView[K, V, VO, VR any](kind joinKind, name string, this *tableView[K, V], other *tableView[K, VO], joiner fullJoiner[K, V, VO, VR]) *tableView[K, VR] {
	stores := slices.Clone(this.stores)
	for _, s := range other.stores {
		if !slices.Contains(stores, s) {
			stores = append(stores, s)
		}
	}
	return &tableView[K, VR]{stores: stores, open: func(ctx lookupContext) (lookup[K, VR], error) {
		get1, err := this.open(ctx)
		if err != nil {
			return nil, err
		}
		get2, err := other.open(ctx)
		if err != nil {
			return nil, err
		}
		c := &call{name: name, what: "the joiner", ctx: ctx}
		isNil := nilTest[VR]()
		return func(key K) (state.ValueAndTimestamp[VR], bool, error) {
			var none state.ValueAndTimestamp[VR]
			a, okA, err := get1(key)
			if err != nil || (!okA && kind != outerJoin) {
				return none, false, err
			}
			b, okB, err := get2(key)
			if err != nil || (!okB && kind == innerJoin) || (!okA && !okB) {
				return none, false, err
			}
			v, err := tryJoin(c, joiner, key, a.Value, okA, b.Value, okB)
			if err != nil || null(isNil, v) {
				return none, false, err
			}
			ts := a.Timestamp
			if !okA || (okB && b.Timestamp.After(ts)) {
				ts = b.Timestamp
			}
			return state.ValueAndTimestamp[VR]{Value: v, Timestamp: ts}, true, nil
		}, nil
	}}
}
