// Package processor is the Processor API: what a stream processor is and what
// it may ask of the task that runs it.
//
// The core types, in the order you meet them:
//
//   - Processor[KIn, VIn, KOut, VOut]: Init once, Process for every record,
//     Close at the end. KIn/VIn are the types it receives, KOut/VOut the types
//     it forwards, so the topology builder can check every edge at compile
//     time.
//   - Context[KOut, VOut]: the processor's handle on its task. Forward sends
//     a record to the children; Schedule sets up a punctuation on stream time
//     or wall-clock time; Commit asks for an early commit; RecordMetadata,
//     StreamTime, TaskID and StateStore tell the processor where it is.
//   - Record[K, V]: key, value, timestamp and headers.
//
// A processor that needs no state is a function: Func turns a ProcessFunc
// into a Supplier. A stateful processor is a type; the topology calls its
// Supplier once per task, so every task has its own instance, and every
// call on it happens on that task's goroutine.
//
// Stores connected to a processor (topology.Builder.AddStateStore) are
// reached with GetStore, typed:
//
//	counts, err := processor.GetStore[state.KeyValueStore[string, int64]](ctx, "Counts")
//
// # Time
//
// Stream time is the largest record timestamp the task has processed; it
// never goes back, even when an older record arrives. A StreamTime
// punctuation is aligned to multiples of its interval from time 0, runs as
// soon as stream time is known and has reached the scheduled time, and gets
// the current stream time. When stream time jumps past several intervals
// the punctuator runs once; the missed intervals are skipped. With a 10 s
// schedule, 60 records stamped 1 s … 60 s give 7 calls, at 1 s, 10 s, 20 s,
// … 60 s. With no new records, stream time stands still and so do StreamTime
// punctuations.
//
// A WallClockTime punctuation follows the system clock: it first runs one
// interval after it was scheduled. The test driver's clock moves only when
// the test says so.
//
// During a punctuation there is no input record: RecordMetadata returns
// NoRecord (topic "", partition -1, offset -1) and false.
//
// # Errors
//
// An error returned from Process, from a punctuator or from Forward stops
// the task; the runtime reports it as a *ProcessingError naming the task,
// the processor and the input record. A record that cannot be deserialized
// is reported as a *DeserializationError naming its topic, partition,
// offset and serde.
package processor
