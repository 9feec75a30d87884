package kstream

import (
	"fmt"

	"github.com/gostreams/streams/processor"
)

// FunctionPanicError is the error a DSL processor fails with when a
// function the user gave it (a predicate, a mapper, a key selector, an
// aggregator) panics. The runtime reports it inside its
// *processor.ProcessingError, which names the task; this error names the
// operation, the function and the record, so that the panic is an error
// the app's handlers see, never a crash.
type FunctionPanicError struct {
	// Processor is the DSL node, e.g. "KSTREAM-KEY-SELECT-0000000002".
	Processor string
	// Function is what panicked, e.g. "GroupBy's key selector".
	Function string
	// Record is where the input record came from (processor.NoRecord
	// when there was none).
	Record processor.RecordMetadata
	// Value is what the function panicked with.
	Value any
}

func (e *FunctionPanicError) Error() string {
	return fmt.Sprintf("kstream: %s: %s panicked on the record at %s-%d@%d: %v",
		e.Processor, e.Function, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Value)
}

// guard runs f, turning a panic into a *FunctionPanicError of processor
// name and function what, with the record ctx is processing.
func guard[KOut, VOut any](ctx processor.Context[KOut, VOut], name, what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked(ctx, name, what, r)
		}
	}()
	return f()
}

// panicked is the error of processor name's function what, which panicked
// with r on the record ctx is processing.
func panicked(ctx interface {
	RecordMetadata() (processor.RecordMetadata, bool)
}, name, what string, r any) error {
	md, _ := ctx.RecordMetadata()
	return &FunctionPanicError{Processor: name, Function: what, Record: md, Value: r}
}

// call is what a stateless DSL processor reports when the user's function
// panics: the node, the function, and (through ctx) the record. Only the
// function runs under recover, through try1, try2, try2x2 and do2, never
// what the processor forwards to: a panic further down (a Processor API
// processor, a serde) stays that node's own and is not blamed on this
// operation's function.
type call struct {
	name, what string
	ctx        interface {
		RecordMetadata() (processor.RecordMetadata, bool)
	}
}

// catch, deferred, turns a panic into a *FunctionPanicError in *err.
func (c *call) catch(err *error) {
	if r := recover(); r != nil {
		*err = panicked(c.ctx, c.name, c.what, r)
	}
}

func try1[A, R any](c *call, f func(A) R, a A) (r R, err error) {
	defer c.catch(&err)
	return f(a), nil
}

func try2[A, B, R any](c *call, f func(A, B) R, a A, b B) (r R, err error) {
	defer c.catch(&err)
	return f(a, b), nil
}

func try3[A, B, C, R any](c *call, f func(A, B, C) R, a A, b B, d C) (r R, err error) {
	defer c.catch(&err)
	return f(a, b, d), nil
}

func try4[A, B, C, D, R any](c *call, f func(A, B, C, D) R, a A, b B, d C, e D) (r R, err error) {
	defer c.catch(&err)
	return f(a, b, d, e), nil
}

func try2x2[A, B, R, S any](c *call, f func(A, B) (R, S), a A, b B) (r R, s S, err error) {
	defer c.catch(&err)
	r, s = f(a, b)
	return r, s, nil
}

func do2[A, B any](c *call, f func(A, B), a A, b B) (err error) {
	defer c.catch(&err)
	f(a, b)
	return nil
}

// guarded is the supplier of a stateless DSL processor: process, called
// for every record with the call through which it runs the user's
// function what. A DSL chain has more nodes than a hand-written processor,
// so each costs little more than its calls: one struct, no closure per
// record.
func guarded[K, V, K2, V2 any](name, what string, process func(c *call, ctx processor.Context[K2, V2], rec processor.Record[K, V]) error) processor.Supplier[K, V, K2, V2] {
	return func() processor.Processor[K, V, K2, V2] {
		return &guardedProcessor[K, V, K2, V2]{call: call{name: name, what: what}, process: process}
	}
}

type guardedProcessor[K, V, K2, V2 any] struct {
	call
	process func(c *call, ctx processor.Context[K2, V2], rec processor.Record[K, V]) error
	ctx     processor.Context[K2, V2]
}

func (p *guardedProcessor[K, V, K2, V2]) Init(ctx processor.Context[K2, V2]) error {
	p.ctx, p.call.ctx = ctx, ctx
	return nil
}

func (p *guardedProcessor[K, V, K2, V2]) Process(rec processor.Record[K, V]) error {
	return p.process(&p.call, p.ctx, rec)
}

func (p *guardedProcessor[K, V, K2, V2]) Close() error { return nil }
