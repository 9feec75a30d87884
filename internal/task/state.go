package task

import "fmt"

// State is where a task is in its life, as Kafka Streams names it:
//
//	Created ──Init──▶ Restoring ──CompleteRestoration──▶ Running
//	                      │                               │  ▲
//	                      │                         Suspend  Resume
//	                      │                               ▼  │
//	                      └────────────Suspend──────────▶ Suspended
//
// and Close takes every state to Closed. The task checks its state itself:
// it buffers records while Restoring but processes and punctuates only while
// Running, and a commit step in any other state is a no-op.
type State int

const (
	// Created: built, stores not opened.
	Created State = iota
	// Restoring: stores open, processors not initialized; the runtime
	// restores the stores from their changelogs.
	Restoring
	// Running: processors initialized; records are processed.
	Running
	// Suspended: given up by a rebalance; its last work committed or
	// abandoned, it is about to be closed.
	Suspended
	// Closed: processors and stores closed.
	Closed
)

var stateNames = [...]string{"Created", "Restoring", "Running", "Suspended", "Closed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// validTransition reports whether a task may go from one state to another.
func validTransition(from, to State) bool {
	switch to {
	case Restoring:
		return from == Created
	case Running:
		return from == Restoring || from == Suspended
	case Suspended:
		return from == Restoring || from == Running
	case Closed:
		return from != Closed
	}
	return false
}

// State returns the task's state.
func (t *Task) State() State { return t.state }

// transition moves the task to state to, or reports the illegal move: a bug
// in the caller, never a user's mistake.
func (t *Task) transition(to State) error {
	if !validTransition(t.state, to) {
		return fmt.Errorf("task %s: cannot go from %v to %v", t.cfg.ID, t.state, to)
	}
	t.state = to
	return nil
}
