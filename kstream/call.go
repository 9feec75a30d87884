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
			md, _ := ctx.RecordMetadata()
			err = &FunctionPanicError{Processor: name, Function: what, Record: md, Value: r}
		}
	}()
	return f()
}
