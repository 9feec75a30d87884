package testdriver_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/serde"
	"github.com/gostreams/streams/testdriver"
	"github.com/gostreams/streams/topology"
)

// punctuationLog is a processor that schedules one punctuator in Init and
// records what it saw on each call.
type punctuationLog struct {
	typ      processor.PunctuationType
	interval time.Duration
	// cancelAfter cancels the schedule from inside the punctuator on the
	// n-th call; 0 never cancels.
	cancelAfter int

	ctx   processor.Context[string, string]
	calls []punctuationCall
}

type punctuationCall struct {
	ts         time.Time
	streamTime time.Time
	wallClock  time.Time
	md         processor.RecordMetadata
	hasRecord  bool
}

func (p *punctuationLog) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	var c processor.Cancellable
	var err error
	c, err = ctx.Schedule(p.interval, p.typ, processor.PunctuatorFunc(func(ts time.Time) error {
		md, ok := ctx.RecordMetadata()
		p.calls = append(p.calls, punctuationCall{ts: ts, streamTime: ctx.StreamTime(), wallClock: ctx.WallClockTime(), md: md, hasRecord: ok})
		if p.cancelAfter > 0 && len(p.calls) == p.cancelAfter {
			c.Cancel()
		}
		return nil
	}))
	return err
}

func (p *punctuationLog) Process(processor.Record[string, string]) error { return nil }
func (p *punctuationLog) Close() error                                   { return nil }

// runPunctuation builds source -> punctuationLog and returns the driver, the
// input topic and the (single, since the driver runs one task) processor.
func runPunctuation(t *testing.T, p *punctuationLog) (*testdriver.Driver, *testdriver.InputTopic[string, string]) {
	t.Helper()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "punct", func() processor.Processor[string, string, string, string] { return p }, src)
	topo, err := b.Build()
	require.NoError(t, err)
	d, err := testdriver.New(topo, testdriver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d, testdriver.CreateInputTopic(d, "in", serde.String(), serde.String())
}

func sec(n int) time.Time { return time.Unix(int64(n), 0) }

// The seed's example: a 10 s stream-time schedule over 60 records stamped
// 1 s … 60 s runs 7 times, at stream times 1 s, 10 s, 20 s, … 60 s.
func TestStreamTimePunctuationAlignedAndSkipping(t *testing.T) {
	t.Parallel()
	p := &punctuationLog{typ: processor.StreamTime, interval: 10 * time.Second}
	_, in := runPunctuation(t, p)
	for i := 1; i <= 60; i++ {
		require.NoError(t, in.Pipe("k", "v", sec(i)))
	}
	var got []time.Time
	for _, c := range p.calls {
		got = append(got, c.ts)
		require.True(t, c.ts.Equal(c.streamTime), "the punctuator receives the stream time")
	}
	require.Equal(t, []time.Time{sec(1), sec(10), sec(20), sec(30), sec(40), sec(50), sec(60)}, got)
}

func TestStreamTimePunctuationSkipsMissedIntervals(t *testing.T) {
	t.Parallel()
	p := &punctuationLog{typ: processor.StreamTime, interval: 10 * time.Second}
	_, in := runPunctuation(t, p)
	require.NoError(t, in.Pipe("k", "v", sec(5)))
	require.NoError(t, in.Pipe("k", "v", sec(95))) // jumps past 10 s … 90 s: one call, not nine
	require.NoError(t, in.Pipe("k", "v", sec(99)))
	require.NoError(t, in.Pipe("k", "v", sec(100)))
	var got []time.Time
	for _, c := range p.calls {
		got = append(got, c.ts)
	}
	require.Equal(t, []time.Time{sec(5), sec(95), sec(100)}, got)
}

func TestStreamTimeNeverGoesBack(t *testing.T) {
	t.Parallel()
	p := &punctuationLog{typ: processor.StreamTime, interval: 10 * time.Second}
	_, in := runPunctuation(t, p)
	require.NoError(t, in.Pipe("k", "v", sec(25)))
	require.NoError(t, in.Pipe("k", "late", sec(3)))
	require.True(t, p.ctx.StreamTime().Equal(sec(25)), "stream time %v went back", p.ctx.StreamTime())
	require.NoError(t, in.Pipe("k", "v", sec(29)))
	require.Len(t, p.calls, 1, "a late record must not trigger a punctuation")
	require.NoError(t, in.Pipe("k", "v", sec(30)))
	require.Len(t, p.calls, 2)
	require.True(t, p.calls[1].ts.Equal(sec(30)))
}

func TestNoStreamTimeNoPunctuation(t *testing.T) {
	t.Parallel()
	p := &punctuationLog{typ: processor.StreamTime, interval: time.Second}
	d, _ := runPunctuation(t, p)
	require.NoError(t, d.AdvanceWallClock(time.Hour))
	require.Empty(t, p.calls)
	require.True(t, p.ctx.StreamTime().IsZero())
}

func TestWallClockPunctuation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		advance []time.Duration
		want    []time.Duration // wall-clock times of the calls, from the start
	}{
		{"20s runs twice", []time.Duration{20 * time.Second}, []time.Duration{10 * time.Second, 20 * time.Second}},
		{"5s never", []time.Duration{5 * time.Second}, nil},
		{"5s then 5s reaches the first", []time.Duration{5 * time.Second, 5 * time.Second}, []time.Duration{10 * time.Second}},
		{"35s in steps", []time.Duration{12 * time.Second, 12 * time.Second, 11 * time.Second},
			[]time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &punctuationLog{typ: processor.WallClockTime, interval: 10 * time.Second}
			d, _ := runPunctuation(t, p)
			start := d.WallClockTime()
			for _, a := range tc.advance {
				require.NoError(t, d.AdvanceWallClock(a))
			}
			var got []time.Duration
			for _, c := range p.calls {
				got = append(got, c.ts.Sub(start))
				require.True(t, c.ts.Equal(c.wallClock), "WallClockTime during the punctuation is its time")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPunctuatorCancelsItself(t *testing.T) {
	t.Parallel()
	for _, typ := range []processor.PunctuationType{processor.StreamTime, processor.WallClockTime} {
		t.Run(typ.String(), func(t *testing.T) {
			t.Parallel()
			p := &punctuationLog{typ: typ, interval: time.Second, cancelAfter: 2}
			d, in := runPunctuation(t, p)
			for i := 1; i <= 10; i++ {
				require.NoError(t, in.Pipe("k", "v", sec(i)))
				require.NoError(t, d.AdvanceWallClock(time.Second))
			}
			require.Len(t, p.calls, 2, "the schedule must stop once cancelled")
		})
	}
}

func TestPunctuationReportsNoRecord(t *testing.T) {
	t.Parallel()
	for _, typ := range []processor.PunctuationType{processor.StreamTime, processor.WallClockTime} {
		t.Run(typ.String(), func(t *testing.T) {
			t.Parallel()
			p := &punctuationLog{typ: typ, interval: time.Second}
			d, in := runPunctuation(t, p)
			require.NoError(t, in.Pipe("k", "v", sec(1)))
			require.NoError(t, in.Pipe("k", "v", sec(2)))
			require.NoError(t, d.AdvanceWallClock(2*time.Second))
			require.Len(t, p.calls, 2)
			for _, c := range p.calls {
				require.False(t, c.hasRecord)
				require.Equal(t, processor.RecordMetadata{Topic: "", Partition: -1, Offset: -1}, c.md)
			}
		})
	}
}

func TestScheduleRejectsShortInterval(t *testing.T) {
	t.Parallel()
	b := topology.NewBuilder()
	src := topology.AddSource(b, "src", topology.Source[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()})
	topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] {
		return &initFunc{init: func(ctx processor.Context[string, string]) error {
			_, err := ctx.Schedule(time.Microsecond, processor.StreamTime, processor.PunctuatorFunc(func(time.Time) error { return nil }))
			return err
		}}
	}, src)
	topo, err := b.Build()
	require.NoError(t, err)
	_, err = testdriver.New(topo, testdriver.Options{})
	require.ErrorContains(t, err, `processor "p": Schedule interval 1µs is below the minimum of 1ms`)
}

// initFunc is a processor whose Init is a function and which forwards
// nothing.
type initFunc struct {
	init func(ctx processor.Context[string, string]) error
}

func (p *initFunc) Init(ctx processor.Context[string, string]) error { return p.init(ctx) }
func (p *initFunc) Process(processor.Record[string, string]) error   { return nil }
func (p *initFunc) Close() error                                     { return nil }
