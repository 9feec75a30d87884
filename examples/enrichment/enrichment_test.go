package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cust is a customer line as the test writes it.
type cust struct {
	id, name, tier string
	at             time.Time
	deleted        bool
}

func (c cust) jsonLine() string {
	if c.deleted {
		return fmt.Sprintf(`{"customerId":%q,"updatedAt":%q,"deleted":true}`, c.id, c.at.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"customerId":%q,"name":%q,"tier":%q,"updatedAt":%q}`, c.id, c.name, c.tier, c.at.Format(time.RFC3339))
}

type ord struct {
	id, customer string
	cents        int64
	at           time.Time
}

func (o ord) jsonLine() string {
	return fmt.Sprintf(`{"orderId":%q,"customerId":%q,"amount":%d.%02d,"category":"c","eventTime":%q}`,
		o.id, o.customer, o.cents/100, o.cents%100, o.at.Format(time.RFC3339))
}

// output is an output line, decoded.
type output struct {
	OrderID, CustomerID, Category string
	Amount                        float64
	EventTime                     time.Time
	Name, Tier                    *string
}

// recompute is the contract, plainly: each order gets the customer's
// latest line with updatedAt at or before its eventTime (the later line of
// two at the same time), unless that line deletes the customer.
func recompute(custs []cust, ords []ord) map[string]output {
	want := map[string]output{}
	for _, o := range ords {
		out := output{OrderID: o.id, CustomerID: o.customer, Category: "c", Amount: float64(o.cents) / 100, EventTime: o.at}
		var best *cust
		for i := range custs {
			c := &custs[i]
			if c.id == o.customer && !c.at.After(o.at) && (best == nil || !c.at.Before(best.at)) {
				best = c
			}
		}
		if best != nil && !best.deleted {
			out.Name, out.Tier = &best.name, &best.tier
		}
		want[o.id] = out
	}
	return want
}

func runFiles(t *testing.T, custs []cust, ords []ord, partitions int) (map[string]output, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		return p
	}
	var cl, ol []string
	for _, c := range custs {
		cl = append(cl, c.jsonLine())
	}
	for _, o := range ords {
		ol = append(ol, o.jsonLine())
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), options{
		orders: write("orders.jsonl", ol), customers: write("customers.jsonl", cl),
		appID: "enrichment-test", partitions: partitions, history: DefaultHistory, timeout: 2 * time.Minute,
	}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	got := map[string]output{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var o output
		require.NoError(t, json.Unmarshal([]byte(l), &o), "an output line: %s", l)
		_, dup := got[o.OrderID]
		require.False(t, dup, "order %s printed twice", o.OrderID)
		got[o.OrderID] = o
	}
	return got, stderr.String()
}

// On random customers (versions in any order, deletions, re-creations)
// and random orders over ten days, in any order, across partitions, the
// output is the recomputation, order for order.
func TestEnrichmentMatchesRecomputation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	span := 10 * 24 * time.Hour
	at := func() time.Time { return base.Add(time.Duration(rng.Int64N(int64(span/time.Minute))) * time.Minute) }
	var custs []cust
	for i := range 150 {
		id := fmt.Sprintf("c%03d", i)
		for range rng.IntN(5) {
			custs = append(custs, cust{id: id, name: fmt.Sprintf("Name %d.%d", i, rng.IntN(100)), tier: []string{"bronze", "silver", "gold"}[rng.IntN(3)], at: at(), deleted: rng.IntN(6) == 0})
		}
	}
	rng.Shuffle(len(custs), func(i, j int) { custs[i], custs[j] = custs[j], custs[i] })
	var ords []ord
	for i := range 3000 {
		ords = append(ords, ord{id: fmt.Sprintf("o%05d", i), customer: fmt.Sprintf("c%03d", rng.IntN(170)), cents: rng.Int64N(100000), at: at()})
	}
	got, _ := runFiles(t, custs, ords, 3)
	want := recompute(custs, ords)
	require.Len(t, got, len(want))
	joined := 0
	for id, w := range want {
		g := got[id]
		require.Equal(t, w.CustomerID, g.CustomerID, id)
		require.True(t, w.EventTime.Equal(g.EventTime), id)
		require.Equal(t, w.Amount, g.Amount, id)
		require.Equal(t, w.Name, g.Name, "order %s of %s at %v: name", id, w.CustomerID, w.EventTime)
		require.Equal(t, w.Tier, g.Tier, "order %s: tier", id)
		if w.Name != nil {
			joined++
		}
	}
	// Not a vacuous comparison: both kinds of line are there.
	require.Greater(t, joined, 1000)
	require.Greater(t, len(want)-joined, 300)
}

// The built-in samples print what their comment says.
func TestEnrichmentSample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), options{appID: "enrichment-sample", partitions: 1, history: DefaultHistory, timeout: time.Minute}, &stdout, &stderr), stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	slices.Sort(lines)
	require.Equal(t, []string{
		`{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:00:00Z","name":"Alice","tier":"silver"}`,
		`{"orderId":"o-2","customerId":"bob","amount":5,"category":"grocery","eventTime":"2024-05-01T09:30:00Z","name":null,"tier":null}`,
		`{"orderId":"o-3","customerId":"alice","amount":42.5,"category":"garden","eventTime":"2024-05-01T13:00:00Z","name":"Alice","tier":"gold"}`,
		`{"orderId":"o-4","customerId":"bob","amount":12,"category":"books","eventTime":"2024-05-01T11:00:00Z","name":"Bob","tier":"bronze"}`,
		`{"orderId":"o-5","customerId":"alice","amount":7.25,"category":"books","eventTime":"2024-05-01T11:59:59Z","name":"Alice","tier":"silver"}`,
		`{"orderId":"o-6","customerId":"carol","amount":1,"category":"apps","eventTime":"2024-05-01T12:00:00Z","name":null,"tier":null}`,
		`{"orderId":"o-7","customerId":"alice","amount":3,"category":"apps","eventTime":"2024-05-02T08:00:00Z","name":null,"tier":null}`,
	}, lines)
}

// Bad input is an error that names the file and the line, and nothing
// runs.
func TestEnrichmentBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "orders.jsonl")
	require.NoError(t, os.WriteFile(good, []byte(`{"orderId":"o","customerId":"a","amount":1,"category":"c","eventTime":"2024-05-01T00:00:00Z"}`+"\n"), 0o644))
	for _, tc := range []struct{ line, want string }{
		{`{"name":"A","tier":"gold","updatedAt":"2024-05-01T00:00:00Z"}`, `line 2: missing or empty "customerId"`},
		{`{"customerId":"a","name":"A","tier":"gold"}`, `line 2: missing "updatedAt"`},
		{`{"customerId":"a","tier":"gold","updatedAt":"2024-05-01T00:00:00Z"}`, `line 2: customer "a": missing "name" or "tier"`},
		{`{"customerId":"a","name":"A","tier":"gold","updatedAt":"yesterday"}`, `line 2: "updatedAt" "yesterday" is not an RFC 3339 time`},
		{`not json`, `line 2: not a JSON customer object`},
	} {
		p := filepath.Join(dir, "customers.jsonl")
		require.NoError(t, os.WriteFile(p, []byte(`{"customerId":"ok","updatedAt":"2024-05-01T00:00:00Z","deleted":true}`+"\n"+tc.line+"\n"), 0o644))
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), options{orders: good, customers: p, appID: "x", partitions: 1, history: DefaultHistory, timeout: time.Minute}, &stdout, &stderr)
		require.ErrorContains(t, err, p+", "+tc.want)
		require.ErrorContains(t, err, "nothing was produced")
		require.Empty(t, stdout.String())
	}
	err := run(context.Background(), options{orders: good, partitions: 1, timeout: time.Minute}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "give both -orders and -customers")
}
