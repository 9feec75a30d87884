package monitor

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	streams "github.com/gostreams/streams"
	"github.com/gostreams/streams/processor"
)

// Status is the app's state as the page shows it: the answer to GET
// api/state, encoded with encoding/json. Its types are exported so that a
// Go client can decode it.
type Status struct {
	Title string    `json:"title"`
	Time  time.Time `json:"time"`
	// State is the app's (streams.App.State): "Created", "Rebalancing",
	// "Running", "PendingShutdown", "NotRunning", "PendingError" or
	// "Error".
	State string `json:"state"`
	// Server is the app's streams.Config.ApplicationServer, if it has one.
	Server string `json:"server,omitempty"`
	// Threads are this instance's live stream threads
	// (App.LocalThreadsMetadata), in order.
	Threads []Thread `json:"threads"`
	// Partitions are the input partitions of this instance's active
	// tasks, by topic and partition, with their consumer lag.
	Partitions []PartitionLag `json:"partitions"`
	// Stores are the local copies of the change-logged stores and how far
	// behind their changelogs they are (App.LagInfo), by store and
	// partition; StoresError says why they are missing if App.LagInfo
	// failed.
	Stores      []StoreLag `json:"stores"`
	StoresError string     `json:"stores_error,omitempty"`
	// Restores are the restorations under way, then the last ones that
	// finished, the latest first: empty unless Config.Restores is set.
	Restores []Restore `json:"restores"`
	// Throughput is the records processed per second by each thread over
	// the last Config.Throughput.
	Throughput Throughput `json:"throughput"`
	// Counters are the app's counts since it was made (streams.Metrics).
	Counters Counters `json:"counters"`
}

// Thread is one stream thread.
type Thread struct {
	Name string `json:"name"`
	// State is the thread's: "Created", "Starting", "PartitionsRevoked",
	// "PartitionsAssigned", "Running", "PendingShutdown" or "Dead".
	State   string `json:"state"`
	Active  []Task `json:"active"`
	Standby []Task `json:"standby"`
	// ProcessRate is the thread's records per second over the last 30
	// seconds (stream-thread-metrics process-rate).
	ProcessRate float64 `json:"process_rate"`
}

// Task is one task of a thread.
type Task struct {
	ID string `json:"id"`
	// State is the task's: "Created", "Restoring", "Running" or
	// "Suspended"; "Standby" for a standby task.
	State      string   `json:"state"`
	Partitions []string `json:"partitions"` // "topic-partition"
}

// PartitionLag is one input partition of an active task.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Task      string `json:"task"`
	Thread    string `json:"thread"`
	// Processed is the offset after the last record the task processed
	// from the partition; nil before the first.
	Processed *int64 `json:"processed"`
	// Lag is how many records the partition's end is ahead of the
	// consumer's position (consumer-fetch-manager-metrics records-lag);
	// nil before the first fetch.
	Lag *int64 `json:"lag"`
}

// StoreLag is one local copy of a store (streams.LagInfo).
type StoreLag struct {
	Store     string `json:"store"`
	Partition int32  `json:"partition"`
	Task      string `json:"task"`
	// Kind is "active", "restoring" or "standby".
	Kind          string `json:"kind"`
	CurrentOffset int64  `json:"current_offset"`
	EndOffset     int64  `json:"end_offset"`
	Lag           int64  `json:"lag"`
}

// Restore is one restoration of a store's partition from its changelog
// (Restores).
type Restore struct {
	Store     string `json:"store"`
	Task      string `json:"task"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// StartOffset is where it began, EndOffset where it ends (the
	// changelog's end when it began), Offset where it is; Records counts
	// the records restored.
	StartOffset int64     `json:"start_offset"`
	EndOffset   int64     `json:"end_offset"`
	Offset      int64     `json:"offset"`
	Records     int64     `json:"records"`
	Started     time.Time `json:"started"`
	// ElapsedMillis is how long it has taken so far, or took.
	ElapsedMillis int64     `json:"elapsed_ms"`
	Done          bool      `json:"done"`
	Ended         time.Time `json:"ended,omitzero"`
}

// Throughput is a graph's data: at each time, each thread's records per
// second since the time before.
type Throughput struct {
	// Times are Unix milliseconds, oldest first, about a second apart:
	// rate i is over (Times[i-1], Times[i]], the first over (Since,
	// Times[0]].
	Since   int64    `json:"since"`
	Times   []int64  `json:"times"`
	Threads []Series `json:"threads"`
}

// Series is one thread's rates, one per Throughput.Times.
type Series struct {
	Thread string    `json:"thread"`
	Rates  []float64 `json:"rates"`
}

// Counters are streams.Metrics' counts.
type Counters struct {
	RecordsProcessed      int64 `json:"records_processed"`
	Commits               int64 `json:"commits"`
	DeserializationErrors int64 `json:"deserialization_errors"`
	ProcessingErrors      int64 `json:"processing_errors"`
	ProductionErrors      int64 `json:"production_errors"`
	DroppedRecords        int64 `json:"dropped_records"`
	DeadLetters           int64 `json:"dead_letters"`
	Aborts                int64 `json:"aborts"`
	ThreadsReplaced       int64 `json:"threads_replaced"`
}

// Status gathers the app's state now, as GET api/state answers it. It
// asks the cluster for the changelogs' ends (App.LagInfo), for at most
// Config.LagTimeout.
func (h *Handler) Status(ctx context.Context) Status {
	app := h.app
	st := Status{
		Title: h.cfg.Title, Time: time.Now().UTC(), State: app.State().String(), Server: app.ApplicationServer(),
		Threads: []Thread{}, Partitions: []PartitionLag{}, Stores: []StoreLag{}, Restores: h.cfg.Restores.snapshot(),
	}
	if st.Restores == nil {
		st.Restores = []Restore{}
	}
	m := app.Metrics()
	st.Counters = Counters{
		RecordsProcessed: m.RecordsProcessed, Commits: m.Commits, DeserializationErrors: m.DeserializationErrors,
		ProcessingErrors: m.ProcessingErrors, ProductionErrors: m.ProductionErrors, DroppedRecords: m.DroppedRecords,
		DeadLetters: m.DeadLetters, Aborts: m.Aborts, ThreadsReplaced: m.ThreadsReplaced,
	}

	// records-lag by thread (its client-id) and partition.
	type threadPart struct {
		thread string
		tp     processor.TopicPartition
	}
	lags := map[threadPart]int64{}
	for _, v := range m.Values {
		if v.Name.Group != "consumer-fetch-manager-metrics" || v.Name.Name != "records-lag" {
			continue
		}
		p, err := strconv.ParseInt(v.Name.Tags["partition"], 10, 32)
		if err != nil {
			continue
		}
		lags[threadPart{v.Name.Tags["client-id"], processor.TopicPartition{Topic: v.Name.Tags["topic"], Partition: int32(p)}}] = int64(v.Value)
	}

	for _, th := range app.LocalThreadsMetadata() {
		t := Thread{Name: th.Name, State: th.State, Active: []Task{}, Standby: []Task{}}
		if rate, ok := m.Find("stream-thread-metrics", "process-rate", "thread-id", th.Name); ok {
			t.ProcessRate = rate.Value
		}
		for _, tk := range th.ActiveTasks {
			task := Task{ID: tk.ID.String(), State: tk.State, Partitions: []string{}}
			for _, tp := range tk.Partitions {
				task.Partitions = append(task.Partitions, tp.Topic+"-"+strconv.Itoa(int(tp.Partition)))
				pl := PartitionLag{Topic: tp.Topic, Partition: tp.Partition, Task: task.ID, Thread: th.Name}
				if off, ok := tk.Processed[tp]; ok {
					pl.Processed = &off
				}
				if lag, ok := lags[threadPart{th.Name, tp}]; ok {
					pl.Lag = &lag
				}
				st.Partitions = append(st.Partitions, pl)
			}
			t.Active = append(t.Active, task)
		}
		for _, tk := range th.StandbyTasks {
			t.Standby = append(t.Standby, Task{ID: tk.ID.String(), State: tk.State, Partitions: []string{}})
		}
		st.Threads = append(st.Threads, t)
	}
	slices.SortFunc(st.Partitions, func(a, b PartitionLag) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})

	lctx, cancel := context.WithTimeout(ctx, h.cfg.LagTimeout)
	defer cancel()
	if info, err := app.LagInfo(lctx); err != nil {
		st.StoresError = err.Error()
	} else {
		for store, parts := range info {
			for p, li := range parts {
				st.Stores = append(st.Stores, StoreLag{Store: store, Partition: p, Task: li.Task.String(), Kind: li.Kind.String(),
					CurrentOffset: li.CurrentOffset, EndOffset: li.EndOffset, Lag: li.Lag})
			}
		}
		slices.SortFunc(st.Stores, func(a, b StoreLag) int {
			return cmp.Or(strings.Compare(a.Store, b.Store), cmp.Compare(a.Partition, b.Partition))
		})
	}

	st.Throughput = h.throughput(st.Threads)
	return st
}

// throughput turns each thread's per-second process-total history into
// rates over the last Config.Throughput.
func (h *Handler) throughput(threads []Thread) Throughput {
	out := Throughput{Times: []int64{}, Threads: []Series{}}
	n := int(h.cfg.Throughput/time.Second) + 1 // n totals make n-1 rates
	var since time.Time
	var times []time.Time
	for _, th := range threads {
		pts := h.app.MetricHistory(streams.MetricName{Group: "stream-thread-metrics", Name: "process-total", Tags: map[string]string{"thread-id": th.Name}})
		if len(pts) > 0 && len(pts) < int(maxThroughput/time.Second) {
			// The history starts with the app's first second: the total
			// was 0 when it began, a second before the first point.
			pts = append([]streams.MetricPoint{{Time: pts[0].Time.Add(-time.Second)}}, pts...)
		}
		if len(pts) > n {
			pts = pts[len(pts)-n:]
		}
		if len(pts) < 2 {
			continue
		}
		s := Series{Thread: th.Name, Rates: make([]float64, 0, len(pts)-1)}
		for i := 1; i < len(pts); i++ {
			dt := pts[i].Time.Sub(pts[i-1].Time).Seconds()
			rate := 0.0
			if d := pts[i].Total - pts[i-1].Total; d > 0 && dt > 0 { // a total that went back is a new counter
				rate = float64(d) / dt
			}
			s.Rates = append(s.Rates, rate)
		}
		if len(pts)-1 > len(times) {
			since, times = pts[0].Time, times[:0]
			for _, p := range pts[1:] {
				times = append(times, p.Time)
			}
		}
		out.Threads = append(out.Threads, s)
	}
	if len(times) > 0 {
		out.Since = since.UnixMilli()
	}
	for _, t := range times {
		out.Times = append(out.Times, t.UnixMilli())
	}
	// Every series ends at the last time; a shorter one (a thread newer
	// than the others) starts later, padded with zeros in front.
	for i, s := range out.Threads {
		if pad := len(out.Times) - len(s.Rates); pad > 0 {
			out.Threads[i].Rates = append(make([]float64, pad), s.Rates...)
		}
	}
	return out
}
