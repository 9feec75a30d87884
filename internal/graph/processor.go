package graph

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gostreams/streams/processor"
	"github.com/gostreams/streams/state"
)

// ProcessorNode runs a user processor. It is also the processor's Context.
type ProcessorNode[KIn, VIn, KOut, VOut any] struct {
	name     string
	proc     processor.Processor[KIn, VIn, KOut, VOut]
	stores   []string
	children []Receiver[KOut, VOut]
	byName   map[string]Receiver[KOut, VOut]
	env      Env
	log      *slog.Logger
}

// NewProcessorNode wraps proc, which may use the named stores.
func NewProcessorNode[KIn, VIn, KOut, VOut any](name string, proc processor.Processor[KIn, VIn, KOut, VOut], stores []string) *ProcessorNode[KIn, VIn, KOut, VOut] {
	return &ProcessorNode[KIn, VIn, KOut, VOut]{name: name, proc: proc, stores: stores, byName: map[string]Receiver[KOut, VOut]{}}
}

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Name() string { return n.name }

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) AddChild(child Node) error {
	return addChild(n.name, &n.children, n.byName, child)
}

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Init(env Env) error {
	n.env = env
	n.log = env.Logger().With("processor", n.name)
	if err := n.proc.Init(n); err != nil {
		return fmt.Errorf("task %s: processor %q: init: %w", env.TaskID(), n.name, err)
	}
	return nil
}

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Close() error {
	if err := n.proc.Close(); err != nil {
		return fmt.Errorf("task %s: processor %q: close: %w", n.env.TaskID(), n.name, err)
	}
	return nil
}

// ExternalCommitter returns the node's processor as a
// processor.ExternalCommitter, if it is one.
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) ExternalCommitter() (processor.ExternalCommitter, bool) {
	ec, ok := any(n.proc).(processor.ExternalCommitter)
	return ec, ok
}

// Receive processes one record. An error that is not already a
// *processor.ProcessingError (one from further down the graph) is wrapped
// in one that names this processor.
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Receive(rec processor.Record[KIn, VIn]) error {
	err := n.proc.Process(rec)
	if err == nil {
		return nil
	}
	var pe *processor.ProcessingError
	if errors.As(err, &pe) {
		return err
	}
	md, _ := n.env.RecordMetadata()
	return &processor.ProcessingError{TaskID: n.env.TaskID(), Processor: n.name, Record: md, Err: err}
}

// Forward implements processor.Context.
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Forward(rec processor.Record[KOut, VOut]) error {
	for _, c := range n.children {
		if err := c.Receive(rec); err != nil {
			return err
		}
	}
	return nil
}

// ForwardTo implements processor.Context.
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, rec processor.Record[KOut, VOut]) error {
	c, ok := n.byName[child]
	if !ok {
		names := make([]string, 0, len(n.children))
		for _, c := range n.children {
			names = append(names, c.Name())
		}
		return fmt.Errorf("processor %q: ForwardTo(%q): no such child; its children are %q", n.name, child, names)
	}
	return c.Receive(rec)
}

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ processor.PunctuationType, p processor.Punctuator) (processor.Cancellable, error) {
	return n.env.Schedule(n.name, interval, typ, p)
}

func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Commit()                  { n.env.RequestCommit() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) StreamTime() time.Time    { return n.env.StreamTime() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) WallClockTime() time.Time { return n.env.WallClockTime() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) DroppedRecord()           { n.env.DroppedRecord(n.name) }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) Logger() *slog.Logger     { return n.log }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) TaskID() processor.TaskID { return n.env.TaskID() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) ApplicationID() string    { return n.env.ApplicationID() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) StateDir() string         { return n.env.StateDir() }
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) RecordMetadata() (processor.RecordMetadata, bool) {
	return n.env.RecordMetadata()
}

// StateStore implements processor.Context: only stores connected to this
// processor are reachable.
func (n *ProcessorNode[KIn, VIn, KOut, VOut]) StateStore(name string) (state.Store, error) {
	if !slices.Contains(n.stores, name) {
		// A global store needs no connection, as in Kafka Streams: every
		// processor reads it, through a read-only view.
		if st, ok := n.env.GlobalStore(name); ok {
			return st, nil
		}
		if n.env.KnowsStore(name) {
			return nil, fmt.Errorf("%w: processor %q asked for store %q; connect them with AddStateStore or ConnectProcessorAndStateStores",
				processor.ErrStoreNotConnected, n.name, name)
		}
		return nil, fmt.Errorf("%w: processor %q asked for store %q, which the topology does not have",
			processor.ErrUnknownStore, n.name, name)
	}
	st, ok := n.env.Store(name)
	if !ok {
		return nil, fmt.Errorf("%w: processor %q asked for store %q, which the task did not build", processor.ErrUnknownStore, n.name, name)
	}
	return st, nil
}
