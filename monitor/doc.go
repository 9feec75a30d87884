// Package monitor is a web monitor for a streams.App: an http.Handler that
// serves one page showing the app's topology as a picture, each stream
// thread's and task's state, each input partition's lag, the stores'
// changelog lag and restore progress, the records processed per second
// over the last minutes, and a store browser that reads through
// interactive queries (package iq). The page polls a small JSON endpoint
// and redraws itself in place. Its script and style are embedded in the
// binary: nothing is fetched from elsewhere and there is nothing to build.
//
// The core types:
//
//   - Handler: made with New from the app, the topology it runs and a
//     Config (the page's title, the iq.Handler to browse stores through, a
//     Restores, how often the page refreshes and how far back the
//     throughput graph goes). It draws the topology once, when made.
//   - Restores: a streams.RestoreListener to put in the app's
//     streams.Config.RestoreListener and in Config.Restores, so that the
//     page shows each restore's start, progress and duration.
//   - Status, the JSON the page polls, exported for Go clients; SVG draws
//     a topology.Description as the page does.
//
// Mount it under a prefix of your own mux with http.StripPrefix; the page
// uses relative URLs only:
//
//	restores := &monitor.Restores{}
//	cfg.RestoreListener = restores // optional: exact restore progress
//	app, err := streams.New(topo, cfg)
//	...
//	q, err := iq.New(app, iq.Config{Prefix: "/iq/"}) // optional: the store browser
//	err = iq.KeyValue[string, int64](q, "counts", iq.StringKeys(), serde.String())
//	m, err := monitor.New(app, topo, monitor.Config{IQ: q, Restores: restores})
//	...
//	mux.Handle("/monitor/", http.StripPrefix("/monitor", m))
//	mux.Handle("/iq/", q) // for other clients and instances; the page does not need it
//
// # Routes
//
// Paths are relative to where the handler is mounted. Every route answers
// GET and HEAD.
//
//	GET /               the page
//	GET /topology.svg   the topology's picture (SVG), as the page shows it
//	GET /api/state      the app's state now: Status
//	GET /static/...     the page's script and style
//	GET /iq/...         Config.IQ's routes (see package iq), passed to it
//	                    under its own prefix: /iq/stores/counts/keys?limit=10
//
// # What the page shows
//
// The topology as SVG drawn on the server (see SVG): sub-topologies as
// boxes, nodes top to bottom along their edges, topics on the left, stores
// on the right, a store outlined while a copy of it restores here. Each
// stream thread with its state and its active and standby tasks with
// theirs (Created, Restoring, Running, Suspended) and input partitions.
// Each input partition with its task, thread, the offset processed to and
// the consumer's lag (records-lag). Each local store copy with its
// changelog offset, the changelog's end and the lag (App.LagInfo): a
// restoring copy with a progress bar, and with Config.Restores each
// restore's records, rate, elapsed time and time to go, and the last ones
// that finished. A graph of each thread's records per second over the
// last Config.Throughput (App.MetricHistory of process-total). And the
// store browser: the stores registered with Config.IQ, the first
// Config.StoreRows entries of one (or a key, or a range of keys, or of
// window starts), refreshed live.
//
// Everything is this instance's: the threads, tasks, partitions and store
// copies it has, as Kafka Streams' local metadata; scans in the store
// browser read its copies only, and a key is looked up wherever it lives
// (package iq forwards it). Run a monitor on each instance.
package monitor
