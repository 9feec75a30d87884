// Package orders reads the order events that examples/customermetrics and
// examples/enrichment take as input, one JSON object per line, and checks
// them; ReadLines reads any such file.
package orders

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/gostreams/streams/serde"
)

// Order is one order event, the value of a record of an orders topic.
type Order struct {
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId"`
	Amount     float64   `json:"amount"`
	Category   string    `json:"category"`
	EventTime  time.Time `json:"eventTime"`
}

// MaxAmount is the largest amount Parse accepts. It keeps every sum of
// amounts far from the point where float64 stops holding whole cents
// exactly (2^53 cents, about 9e13).
const MaxAmount = 1e12

// orderLine is an order as written: pointers tell a missing field from a
// zero one, and the time stays text so that a bad one gets its own message.
type orderLine struct {
	OrderID    string   `json:"orderId"`
	CustomerID *string  `json:"customerId"`
	Amount     *float64 `json:"amount"`
	Category   string   `json:"category"`
	EventTime  *string  `json:"eventTime"`
}

// OrderError is returned by Parse for an order it rejects. It unwraps
// to serde.ErrMalformed, so the runtime treats such a record as one that
// cannot be deserialized.
type OrderError struct {
	Reason string // what is wrong and how to fix it
}

func (e *OrderError) Error() string { return "bad order: " + e.Reason }

func (e *OrderError) Unwrap() error { return serde.ErrMalformed }

// Parse decodes and checks one order written as a JSON object. It
// requires customerId (not empty), amount (a number of whole cents between 0
// and MaxAmount) and eventTime (an RFC 3339 time from 1970 to 2261); orderId and category are
// optional. It returns an *OrderError that says what to fix.
func Parse(data []byte) (Order, error) {
	bad := func(format string, args ...any) (Order, error) {
		return Order{}, &OrderError{Reason: fmt.Sprintf(format, args...)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return bad("empty order; write one JSON object per line")
	}
	var l orderLine
	if err := json.Unmarshal(data, &l); err != nil {
		return bad("not a JSON order object (%v); write one object per line, such as %s", err, exampleOrder)
	}
	switch {
	case l.CustomerID == nil:
		return bad(`missing "customerId"; every order names its customer`)
	case *l.CustomerID == "":
		return bad(`empty "customerId"; every order names its customer`)
	case l.Amount == nil:
		return bad(`missing "amount"; every order has a number amount, such as 19.99`)
	case *l.Amount < 0 || *l.Amount > MaxAmount:
		return bad(`"amount" %v is out of range; amounts are between 0 and %.0f`, *l.Amount, float64(MaxAmount))
	case !wholeCents(*l.Amount):
		return bad(`"amount" %v is not a whole number of cents; write at most two decimals, such as 19.99`, *l.Amount)
	case l.EventTime == nil:
		return bad(`missing "eventTime"; every order has an RFC 3339 time, such as "2024-05-01T09:30:00Z"`)
	}
	t, err := time.Parse(time.RFC3339, *l.EventTime)
	if err != nil {
		return bad(`"eventTime" %q is not an RFC 3339 time; write it as "2024-05-01T09:30:00Z" or "2024-05-01T11:30:00+02:00"`, *l.EventTime)
	}
	if t.Before(minEventTime) || !t.Before(maxEventTime) {
		return bad(`"eventTime" %q is out of range; Kafka timestamps run from 1970 to 2262`, *l.EventTime)
	}
	return Order{OrderID: l.OrderID, CustomerID: *l.CustomerID, Amount: *l.Amount, Category: l.Category, EventTime: t}, nil
}

// Event times become record timestamps, which Kafka wants at or after the
// Unix epoch and the runtime keeps as int64 nanoseconds.
var (
	minEventTime = time.Unix(0, 0)
	maxEventTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

const exampleOrder = `{"orderId":"o-1","customerId":"alice","amount":19.99,"category":"books","eventTime":"2024-05-01T09:30:00Z"}`

// wholeCents reports whether a is the float64 closest to a whole number of
// cents: what JSON's 19.99 or 20 decode to, and 1.005 does not.
func wholeCents(a float64) bool {
	return math.Round(a*100)/100 == a
}

// Serde reads and writes orders as JSON and checks every order it
// reads with Parse, so a bad record on the orders topic is a
// deserialization error naming its topic, partition and offset, handled by
// the app's Config.OnDeserializationError, rather than wrong metrics.
var Serde = serde.New("json-order",
	func(o Order) ([]byte, error) {
		if o.CustomerID == "" || o.EventTime.IsZero() {
			return nil, errors.New("an order needs a customerId and an eventTime")
		}
		return json.Marshal(o)
	},
	Parse)

// Line is one value of a JSON-lines file and the bytes it was read from.
type Line[T any] struct {
	Raw   []byte
	Value T
}

// ReadLines reads and checks every line of in, a file called name, with
// parse; blank lines are skipped. The first bad line is an error naming
// name and the line's number, which says that nothing was produced.
func ReadLines[T any](name string, in io.Reader, parse func([]byte) (T, error)) ([]Line[T], error) {
	var lines []Line[T]
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		v, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w; fix the line and run again (nothing was produced)", name, n, err)
		}
		lines = append(lines, Line[T]{Raw: bytes.Clone(raw), Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return lines, nil
}

// ReadFile is ReadLines of the file at path, or of sample (named "the
// built-in sample") when path is "".
func ReadFile[T any](path, sample string, parse func([]byte) (T, error)) ([]Line[T], error) {
	if path == "" {
		return ReadLines("the built-in sample", strings.NewReader(sample), parse)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the input: %w", err)
	}
	defer f.Close()
	return ReadLines(path, f, parse)
}
