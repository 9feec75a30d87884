package streams

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gostreams/streams/internal/runtime"
	"github.com/gostreams/streams/processor"
)

// StreamsMetadata is what one instance of the app hosts, as of the last
// rebalance (Kafka Streams' StreamsMetadata).
type StreamsMetadata struct {
	// Server is the instance's Config.ApplicationServer.
	Server string
	// ActiveTasks and StandbyTasks are its tasks, in task order.
	ActiveTasks, StandbyTasks []processor.TaskID
	// Stores are the stores of its active tasks, and the global stores,
	// which every instance holds; StandbyStores those of its standby
	// tasks. Sorted.
	Stores, StandbyStores []string
}

// AllMetadata lists what every instance of the app that advertises a
// Config.ApplicationServer hosts, sorted by server, as of the last
// rebalance (Kafka Streams' metadataForAllStreamsClients). It is empty
// before the app first joined its group.
func AllMetadata(a *App) []StreamsMetadata {
	active, standby := a.rt.Hosts()
	servers := slices.Sorted(maps.Keys(active))
	for s := range standby {
		if !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	slices.Sort(servers)
	var globals []string
	for name, def := range a.prog.Stores {
		if def.Global {
			globals = append(globals, name)
		}
	}
	out := make([]StreamsMetadata, 0, len(servers))
	for _, s := range servers {
		m := StreamsMetadata{Server: s, ActiveTasks: sortedTasks(active[s]), StandbyTasks: sortedTasks(standby[s])}
		m.Stores = a.storesOf(m.ActiveTasks, globals)
		m.StandbyStores = a.storesOf(m.StandbyTasks, nil)
		out = append(out, m)
	}
	return out
}

// MetadataForStore is AllMetadata narrowed to the instances that host
// store name, actively or as a standby (Kafka Streams'
// streamsMetadataForStore). It fails with ErrUnknownStore for a name the
// topology does not have.
func MetadataForStore(a *App, name string) ([]StreamsMetadata, error) {
	if err := a.knowsStore(name); err != nil {
		return nil, err
	}
	var out []StreamsMetadata
	for _, m := range AllMetadata(a) {
		if slices.Contains(m.Stores, name) || slices.Contains(m.StandbyStores, name) {
			out = append(out, m)
		}
	}
	return out, nil
}

func sortedTasks(ids []processor.TaskID) []processor.TaskID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, runtime.CompareTaskIDs)
	return ids
}

// storesOf returns the sorted names of the stores of tasks' sub-topologies,
// and extra.
func (a *App) storesOf(tasks []processor.TaskID, extra []string) []string {
	names := slices.Clone(extra)
	for _, id := range tasks {
		if id.Subtopology < 0 || id.Subtopology >= len(a.prog.Subtopologies) {
			continue
		}
		for _, s := range a.prog.Subtopologies[id.Subtopology].Stores {
			if !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	slices.Sort(names)
	return names
}

// LagInfo is how far one local copy of a store is behind its changelog
// (Kafka Streams' LagInfo).
type LagInfo struct {
	Task processor.TaskID
	Kind StoreKind
	// CurrentOffset is the changelog offset the copy has read up to (the
	// next it reads); EndOffset the changelog's end (its last stable
	// offset under exactly-once); Lag the records between them. A running
	// active task writes the changelog, so its copy is at the end: Lag 0.
	CurrentOffset, EndOffset, Lag int64
}

// LagInfo returns, per store and partition, how far behind its changelog
// each copy of a store on this instance is: the running tasks' (Lag 0),
// those being restored, and the standby tasks'. A store that is not
// change-logged has no lag to report and is left out; so is a standby's
// store restored from a source topic, which a standby does not follow.
// It asks the cluster for the changelogs' ends.
func (a *App) LagInfo(ctx context.Context) (map[string]map[int32]LagInfo, error) {
	tasks := a.rt.LocalPositions()
	var topics []string
	for _, tp := range tasks {
		for _, topic := range tp.Changelogs {
			if !slices.Contains(topics, topic) {
				topics = append(topics, topic)
			}
		}
	}
	out := map[string]map[int32]LagInfo{}
	if len(topics) == 0 {
		return out, nil
	}
	ends, err := a.rt.EndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("streams: lag info: end offsets of the changelogs: %w", err)
	}
	for _, tp := range tasks {
		kind := Restoring
		switch {
		case tp.Running:
			kind = Active
		case tp.Standby:
			kind = Standby
		}
		for store, topic := range tp.Changelogs {
			part := runtime.TopicPartition{Topic: topic, Partition: tp.Task.Partition}
			end := ends[part]
			cur, ok := tp.Positions[part]
			switch {
			case tp.Running, !ok && !tp.Standby:
				cur = end // the store is restored (the rest of the task may not be)
			case !ok:
				continue // a source topic, which a standby does not follow
			}
			if out[store] == nil {
				out[store] = map[int32]LagInfo{}
			}
			out[store][tp.Task.Partition] = LagInfo{Task: tp.Task, Kind: kind, CurrentOffset: cur, EndOffset: end, Lag: max(end-cur, 0)}
		}
	}
	return out, nil
}

// ThreadMetadata is what one stream thread of this instance runs (Kafka
// Streams' ThreadMetadata).
type ThreadMetadata struct {
	// Name is the thread's name, its thread-id in the metrics
	// ("<application.id>-thread-<n>").
	Name string
	// State is the thread's state: Created, Starting, PartitionsRevoked,
	// PartitionsAssigned, Running, PendingShutdown or Dead.
	State string
	// ActiveTasks and StandbyTasks are its tasks, in task order.
	ActiveTasks, StandbyTasks []TaskMetadata
}

// TaskMetadata is one task of a thread (Kafka Streams' TaskMetadata).
type TaskMetadata struct {
	ID processor.TaskID
	// State is the task's: Created, Restoring (its stores catching up with
	// their changelogs), Running or Suspended; Standby for a standby task.
	State string
	// Partitions are its input partitions (none for a standby).
	Partitions []processor.TopicPartition
	// Processed is, per input partition that processed a record, the
	// offset after the last one processed.
	Processed map[processor.TopicPartition]int64
}

// LocalThreadsMetadata describes this instance's live stream threads and
// their tasks (Kafka Streams' KafkaStreams.metadataForLocalThreads). It is
// safe to call from any goroutine.
func (a *App) LocalThreadsMetadata() []ThreadMetadata {
	var out []ThreadMetadata
	for _, th := range a.rt.Threads() {
		tm := ThreadMetadata{Name: th.Name, State: th.State.String()}
		for _, t := range th.Active {
			tm.ActiveTasks = append(tm.ActiveTasks, TaskMetadata{ID: t.ID, State: t.State, Partitions: t.Partitions, Processed: t.Committed})
		}
		for _, t := range th.Standby {
			tm.StandbyTasks = append(tm.StandbyTasks, TaskMetadata{ID: t.ID, State: t.State})
		}
		out = append(out, tm)
	}
	return out
}
