package task

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
)

// schedule is one Context.Schedule call.
type schedule struct {
	node      string
	typ       processor.PunctuationType
	interval  int64 // ns
	next      int64 // Unix ns of the next run
	seq       int   // order of scheduling, to break ties
	p         processor.Punctuator
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// advance moves next past now, skipping missed intervals: a punctuator
// runs once per check however far behind the check is.
func (s *schedule) advance(now int64) {
	next := s.next + s.interval
	if now >= next {
		next = now - (now-s.next)%s.interval + s.interval
	}
	s.next = next
}

// Schedule implements graph.Env. Stream-time schedules are aligned to time
// 0, so the first runs as soon as stream time is known; wall-clock
// schedules first run one interval from now.
func (t *Task) Schedule(node string, interval time.Duration, typ processor.PunctuationType, p processor.Punctuator) (processor.Cancellable, error) {
	if interval < processor.MinPunctuationInterval {
		return nil, fmt.Errorf("processor %q: Schedule interval %v is below the minimum of %v", node, interval, processor.MinPunctuationInterval)
	}
	if p == nil {
		return nil, fmt.Errorf("processor %q: Schedule was given a nil punctuator", node)
	}
	s := &schedule{node: node, typ: typ, interval: int64(interval), seq: t.seq, p: p}
	t.seq++
	switch typ {
	case processor.StreamTime:
		s.next = 0
	case processor.WallClockTime:
		s.next = t.cfg.Clock().UnixNano() + int64(interval)
	default:
		return nil, fmt.Errorf("processor %q: unknown punctuation type %v", node, typ)
	}
	t.schedules = append(t.schedules, s)
	return s, nil
}

// PunctuateStreamTime runs the stream-time punctuators that are due. It
// reports whether any ran.
func (t *Task) PunctuateStreamTime() (bool, error) {
	if t.streamTime == unknown || t.state != Running {
		return false, nil
	}
	return t.punctuate(processor.StreamTime, t.streamTime, t.streamTimeT)
}

// PunctuateWallClock runs the wall-clock punctuators due at now.
func (t *Task) PunctuateWallClock(now time.Time) (bool, error) {
	if t.state != Running {
		return false, nil
	}
	return t.punctuate(processor.WallClockTime, now.UnixNano(), now)
}

// NextWallClock reports when the next wall-clock punctuation is due.
func (t *Task) NextWallClock() (time.Time, bool) {
	var next int64
	found := false
	for _, s := range t.schedules {
		if s.typ == processor.WallClockTime && !s.cancelled && (!found || s.next < next) {
			next, found = s.next, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(0, next), true
}

func (t *Task) punctuate(typ processor.PunctuationType, now int64, nowT time.Time) (bool, error) {
	due := t.due[:0]
	for _, s := range t.schedules {
		if s.typ == typ && !s.cancelled && s.next <= now {
			due = append(due, s)
		}
	}
	if len(due) == 0 {
		return false, nil
	}
	slices.SortFunc(due, func(a, b *schedule) int {
		if a.next != b.next {
			return compare(a.next, b.next)
		}
		return a.seq - b.seq
	})
	var err error
	for _, s := range due {
		if s.cancelled { // cancelled by an earlier punctuator of this round
			continue
		}
		s.advance(now)
		t.now = nowT
		var start time.Time
		if t.cfg.Punctuate != nil {
			start = time.Now()
		}
		perr := s.p.Punctuate(nowT)
		t.cfg.Punctuations.Inc()
		if t.cfg.Punctuate != nil {
			t.cfg.Punctuate.Since(start)
		}
		if perr != nil {
			err = t.punctuationError(s.node, nowT, perr)
			break
		}
	}
	t.sensors.flush() // what the punctuators sent
	clear(due)
	t.due = due[:0]
	t.schedules = slices.DeleteFunc(t.schedules, func(s *schedule) bool { return s.cancelled })
	return true, err
}

func (t *Task) punctuationError(node string, at time.Time, err error) error {
	var pe *processor.ProcessingError
	if errors.As(err, &pe) {
		return err
	}
	return &processor.ProcessingError{TaskID: t.cfg.ID, Processor: node, Record: processor.NoRecord,
		Punctuation: true, PunctuationTime: at, Err: err}
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
