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
func panicked[KOut, VOut any](ctx processor.Context[KOut, VOut], name, what string, r any) error {
	md, _ := ctx.RecordMetadata()
	return &FunctionPanicError{Processor: name, Function: what, Record: md, Value: r}
}

// guarded is the supplier of a stateless DSL processor: process, called
// for every record with a recover that turns a panic of the user's
// function what into a *FunctionPanicError. One struct and one deferred
// recover per record: a DSL chain has more nodes than a hand-written
// processor, so each must cost little more than the call.
func guarded[K, V, K2, V2 any](name, what string, process func(ctx processor.Context[K2, V2], rec processor.Record[K, V]) error) processor.Supplier[K, V, K2, V2] {
	return func() processor.Processor[K, V, K2, V2] {
		return &guardedProcessor[K, V, K2, V2]{name: name, what: what, process: process}
	}
}

type guardedProcessor[K, V, K2, V2 any] struct {
	name, what string
	process    func(ctx processor.Context[K2, V2], rec processor.Record[K, V]) error
	ctx        processor.Context[K2, V2]
}

func (p *guardedProcessor[K, V, K2, V2]) Init(ctx processor.Context[K2, V2]) error {
	p.ctx = ctx
	return nil
}

func (p *guardedProcessor[K, V, K2, V2]) Process(rec processor.Record[K, V]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked(p.ctx, p.name, p.what, r)
		}
	}()
	return p.process(p.ctx, rec)
}

func (p *guardedProcessor[K, V, K2, V2]) Close() error { return nil }
