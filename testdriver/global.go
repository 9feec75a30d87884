package testdriver

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/internal/task"
	"github.com/gostreams/streams/state"
)

// newGlobal makes and opens the global task, if the topology has global
// stores, and returns the views of its stores for the tasks. Its stores
// start empty (or as a persistent store left them in StateDir): the driver
// restores nothing.
func (d *Driver) newGlobal(opts Options) (map[string]state.Store, error) {
	g, err := task.NewGlobal(task.GlobalConfig{
		ApplicationID: d.appID,
		StateDir:      filepath.Join(d.stateDir, d.appID, "global"),
		Program:       d.prog,
		Clock:         func() time.Time { return d.clock },
		Dropped:       d.droppedBy,
		Logger:        opts.Logger,
	})
	if err != nil || g == nil {
		return nil, err
	}
	if err := g.Init(); err != nil {
		return nil, err
	}
	d.global = g
	return g.Views(), nil
}

// updateGlobal runs a record of a global topic through its global store's
// processor and flushes the store, so that the next record any task
// processes reads the update, as it would once the global thread applied
// it.
func (d *Driver) updateGlobal(raw *graph.RawRecord) error {
	if err := d.global.Update(raw); err != nil {
		return err
	}
	if err := d.global.Flush(); err != nil {
		return fmt.Errorf("testdriver: %w", err)
	}
	return nil
}
