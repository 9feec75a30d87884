package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Upsert is the idempotent write of one row per key, for a sink in
// Idempotent mode: a record's row is inserted, or updated if the record is
// newer than the last one applied to the row, so that a record written
// again after a crash changes nothing. The row stores the partition and
// offset of the record last applied to it (PartitionColumn, OffsetColumn);
// the table must have them, and a primary key or unique constraint on the
// Key columns:
//
//	INSERT INTO t (k, v, last_partition, last_offset) VALUES ($1, $2, $3, $4)
//	ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, last_partition = ..., last_offset = ...
//	WHERE t.last_partition <> EXCLUDED.last_partition OR t.last_offset < EXCLUDED.last_offset
//
// It assumes that the records of one key come from one partition, in
// offset order, as Kafka's key partitioning makes them; a row whose key
// moved to another partition takes the first record from there.
type Upsert struct {
	// Table is the table, "table" or "schema.table". Required.
	Table string
	// Key are the columns of the primary key or unique constraint.
	// Required.
	Key []string
	// Columns are the other columns a record sets.
	Columns []string
	// Set, per column, replaces the update's default EXCLUDED.<column>
	// with an SQL expression, which may read the row's current value
	// through the table's name (its last part) and the new one through
	// EXCLUDED: {"total": "t.total + EXCLUDED.total"} accumulates in the
	// database, still once per record.
	Set map[string]string
	// PartitionColumn and OffsetColumn hold the last record's partition
	// and offset. Default "last_partition" (integer) and "last_offset"
	// (bigint).
	PartitionColumn, OffsetColumn string

	// The statement, built once: the sink's tasks share an Upsert and may
	// run on several stream threads.
	once sync.Once
	err  error
	sql  string
	n    int
}

// Prepare checks u and builds its statement, once; Queue calls it. Set the
// fields before the first call: later changes are not seen.
func (u *Upsert) Prepare() error {
	u.once.Do(func() { u.err = u.prepare() })
	return u.err
}

func (u *Upsert) prepare() error {
	if u.Table == "" || len(u.Key) == 0 {
		return errors.New("postgres sink: Upsert needs a Table and its Key columns")
	}
	id, err := parseIdentifier(u.Table)
	if err != nil {
		return err
	}
	pc, oc := u.PartitionColumn, u.OffsetColumn
	if pc == "" {
		pc = "last_partition"
	}
	if oc == "" {
		oc = "last_offset"
	}
	alias := pgx.Identifier{id[len(id)-1]}.Sanitize()
	quote := func(c string) string { return pgx.Identifier{c}.Sanitize() }
	all := append(append(append([]string{}, u.Key...), u.Columns...), pc, oc)
	cols := make([]string, len(all))
	params := make([]string, len(all))
	for i, c := range all {
		cols[i], params[i] = quote(c), "$"+strconv.Itoa(i+1)
	}
	keys := make([]string, len(u.Key))
	for i, k := range u.Key {
		keys[i] = quote(k)
	}
	for c := range u.Set {
		found := false
		for _, x := range u.Columns {
			found = found || x == c
		}
		if !found {
			return fmt.Errorf("postgres sink: Upsert into %s: Set names column %q, which is not in Columns", u.Table, c)
		}
	}
	var sets []string
	for _, c := range append(append([]string{}, u.Columns...), pc, oc) {
		expr := "EXCLUDED." + quote(c)
		if e, ok := u.Set[c]; ok {
			expr = e
		}
		sets = append(sets, quote(c)+" = "+expr)
	}
	u.sql = fmt.Sprintf("INSERT INTO %s AS %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s WHERE %s.%s <> EXCLUDED.%s OR %s.%s < EXCLUDED.%s",
		id.Sanitize(), alias, strings.Join(cols, ", "), strings.Join(params, ", "), strings.Join(keys, ", "),
		strings.Join(sets, ", "), alias, quote(pc), quote(pc), alias, quote(oc), quote(oc))
	u.n = len(u.Key) + len(u.Columns)
	return nil
}

// SQL is the statement, once Prepare succeeded.
func (u *Upsert) SQL() string { return u.sql }

// Queue adds the upsert of the record being written to b: key holds the
// values of the Key columns, values those of Columns, in their order.
func (u *Upsert) Queue(b *Batch, key []any, values []any) error {
	if err := u.Prepare(); err != nil {
		return err
	}
	if len(key)+len(values) != u.n {
		return fmt.Errorf("postgres sink: Upsert into %s: %d key and %d column values; want %d and %d",
			u.Table, len(key), len(values), len(u.Key), len(u.Columns))
	}
	md := b.Record()
	if md.Offset < 0 {
		return fmt.Errorf("postgres sink: Upsert into %s: the record has no offset (written from a punctuation?); an idempotent upsert needs the input record's partition and offset", u.Table)
	}
	args := make([]any, 0, u.n+2)
	args = append(append(append(args, key...), values...), md.Partition, md.Offset)
	b.Queue(u.sql, args...)
	return nil
}
