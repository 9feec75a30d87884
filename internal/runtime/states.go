package runtime

import "fmt"

// ThreadState is where a stream thread is, as Kafka Streams names it:
//
//	Created → Starting → PartitionsAssigned → Running → PendingShutdown → Dead
//	                ↘ PartitionsRevoked ↗    ↖___________↙
//
// A thread is PartitionsAssigned from a rebalance's assignment until every
// task it was given has restored its stores, and PartitionsRevoked while it
// gives tasks up. Any state but Dead may go to PendingShutdown.
type ThreadState int

const (
	ThreadCreated ThreadState = iota
	ThreadStarting
	ThreadPartitionsRevoked
	ThreadPartitionsAssigned
	ThreadRunning
	ThreadPendingShutdown
	ThreadDead
)

var threadStateNames = [...]string{"Created", "Starting", "PartitionsRevoked", "PartitionsAssigned", "Running", "PendingShutdown", "Dead"}

func (s ThreadState) String() string {
	if s >= 0 && int(s) < len(threadStateNames) {
		return threadStateNames[s]
	}
	return fmt.Sprintf("ThreadState(%d)", int(s))
}

// threadTransitions are Kafka Streams' StreamThread.State transitions.
var threadTransitions = map[ThreadState][]ThreadState{
	ThreadCreated:            {ThreadStarting, ThreadPendingShutdown},
	ThreadStarting:           {ThreadPartitionsRevoked, ThreadPartitionsAssigned, ThreadPendingShutdown},
	ThreadPartitionsRevoked:  {ThreadPartitionsRevoked, ThreadPartitionsAssigned, ThreadPendingShutdown},
	ThreadPartitionsAssigned: {ThreadPartitionsRevoked, ThreadPartitionsAssigned, ThreadRunning, ThreadPendingShutdown},
	ThreadRunning:            {ThreadPartitionsRevoked, ThreadPartitionsAssigned, ThreadPendingShutdown},
	ThreadPendingShutdown:    {ThreadDead},
	ThreadDead:               {},
}

// State is the state of the app (Kafka Streams' KafkaStreams.State); the
// root package's streams.State has the same values.
//
//	Created → Rebalancing ⇄ Running
//	   any of them → PendingShutdown → NotRunning   (Close, or the context ends)
//	   any of them → PendingError → Error           (a failure stops the instance)
type State int

const (
	Created State = iota
	Rebalancing
	Running
	PendingShutdown
	NotRunning
	PendingError
	Error
)

var stateNames = [...]string{"Created", "Rebalancing", "Running", "PendingShutdown", "NotRunning", "PendingError", "Error"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// stateTransitions are Kafka Streams' KafkaStreams.State transitions.
var stateTransitions = map[State][]State{
	Created:         {Rebalancing, PendingShutdown, PendingError},
	Rebalancing:     {Running, PendingShutdown, PendingError},
	Running:         {Rebalancing, PendingShutdown, PendingError},
	PendingShutdown: {NotRunning},
	NotRunning:      {},
	PendingError:    {Error},
	Error:           {},
}

func validTransition[S comparable](table map[S][]S, from, to S) bool {
	for _, s := range table[from] {
		if s == to {
			return true
		}
	}
	return false
}
