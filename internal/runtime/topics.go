package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gostreams/streams/internal/graph"
	"github.com/gostreams/streams/state"
)

// topicPlan is what the app learned about its topics at start.
type topicPlan struct {
	// partitions of every source and internal topic, by cluster name.
	partitions map[string]int32
	// subPartitions is the task count of each sub-topology.
	subPartitions []int32
	// internal are the topics the app creates: repartition and changelog
	// topics, with their partition counts and configs.
	internal map[string]internalTopic
}

type internalTopic struct {
	partitions int32
	configs    map[string]*string
	changelog  bool
}

// planTopics checks the source topics and works out every internal topic.
// It reads the cluster's metadata but changes nothing.
func planTopics(ctx context.Context, adm *kadm.Client, prog *graph.Program, appID string) (*topicPlan, error) {
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("streams: listing topics: %w", err)
	}
	plan := &topicPlan{partitions: map[string]int32{}, internal: map[string]internalTopic{}, subPartitions: make([]int32, len(prog.Subtopologies))}
	var problems []string

	// Source topics that are not internal must exist; pattern sources read
	// whatever matches now.
	for _, st := range prog.Subtopologies {
		for _, t := range st.SourceTopics {
			if _, internal := prog.InternalTopics[t]; internal {
				continue
			}
			d, ok := all[t]
			if !ok || d.Err != nil {
				problems = append(problems, fmt.Sprintf("source topic %q does not exist; create it before starting the app", t))
				continue
			}
			plan.partitions[t] = int32(len(d.Partitions))
		}
		for _, p := range st.Patterns {
			for name, d := range all {
				if fullMatch(p, name) && d.Err == nil {
					plan.partitions[name] = int32(len(d.Partitions))
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("streams: " + strings.Join(problems, "; "))
	}

	// Sub-topology sizes, resolving repartition topics from the
	// sub-topology that writes them, until nothing changes.
	writer := map[string]int{} // internal topic -> writing sub-topology
	for _, st := range prog.Subtopologies {
		for _, n := range st.Nodes {
			if n.Kind == graph.SinkKind {
				if _, ok := prog.InternalTopics[n.Topic]; ok {
					writer[n.Topic] = st.ID
				}
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, st := range prog.Subtopologies {
			// The sub-topology's source topics are co-partitioned (a join
			// reads both sides in one sub-topology): a repartition topic of
			// no fixed count gets that of the topics it is read with, as in
			// Kafka Streams' CopartitionedTopicsEnforcer; the largest
			// external topic's, or, when all are internal, the largest count
			// their writers give.
			var external, internalMax int32
			for _, t := range st.SourceTopics {
				if it, internal := prog.InternalTopics[t]; !internal {
					external = max(external, plan.partitions[prog.TopicName(appID, t)])
				} else if it.Partitions > 0 {
					internalMax = max(internalMax, int32(it.Partitions))
				} else if w, ok := writer[t]; ok {
					internalMax = max(internalMax, plan.subPartitions[w])
				}
			}
			var n int32
			var likeReader []string
			for _, t := range st.SourceTopics {
				c := plan.partitions[prog.TopicName(appID, t)]
				if it, internal := prog.InternalTopics[t]; internal && it.Partitions == 0 && it.PartitionedLikeReader {
					// Counted from the other sources, below.
					likeReader = append(likeReader, prog.TopicName(appID, t))
					continue
				}
				if it, internal := prog.InternalTopics[t]; internal {
					c = int32(it.Partitions)
					if c == 0 {
						c = internalMax
						if external > 0 {
							c = external
						}
					}
					if c > 0 {
						plan.partitions[prog.TopicName(appID, t)] = c
					}
				}
				n = max(n, c)
			}
			for name, c := range plan.partitions {
				if slices.ContainsFunc(st.Patterns, func(p *regexp.Regexp) bool { return fullMatch(p, name) }) {
					n = max(n, c)
				}
			}
			for _, name := range likeReader {
				if n > 0 {
					plan.partitions[name] = n
				}
			}
			if n != plan.subPartitions[st.ID] {
				plan.subPartitions[st.ID], changed = n, true
			}
		}
	}

	// Co-partitioning: the listed source topics of a sub-topology must all
	// have its partition count.
	for _, st := range prog.Subtopologies {
		var counts []string
		mismatch := false
		for _, t := range st.SourceTopics {
			c := plan.partitions[prog.TopicName(appID, t)]
			counts = append(counts, fmt.Sprintf("%s has %d", prog.TopicName(appID, t), c))
			if c != plan.subPartitions[st.ID] {
				mismatch = true
			}
		}
		if mismatch {
			problems = append(problems, fmt.Sprintf("the source topics of sub-topology %d are read together and must have the same partition count, but %s; repartition one of them or recreate it",
				st.ID, strings.Join(counts, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("streams: " + strings.Join(problems, "; "))
	}

	for t := range prog.InternalTopics {
		name := prog.TopicName(appID, t)
		plan.internal[name] = internalTopic{partitions: plan.partitions[name], configs: map[string]*string{"cleanup.policy": new("delete")}}
	}
	for _, st := range prog.Subtopologies {
		for _, s := range st.Stores {
			b := prog.Stores[s].Builder
			if !b.LoggingEnabled() {
				continue
			}
			cfg := map[string]*string{}
			for k, v := range b.LogConfig() {
				cfg[k] = new(v)
			}
			// Window and session stores drop old segments: their changelog
			// is compacted and deleted (retention.ms, retention + 1 day,
			// comes from the builder's LogConfig); a key-value store's is
			// only compacted.
			if _, windowed := b.(state.WindowedStoreBuilder); windowed {
				// A store that sets its own policy keeps it: a join's window
				// stores log with "delete", as in Kafka Streams.
				if _, ok := cfg["cleanup.policy"]; !ok {
					cfg["cleanup.policy"] = new("compact,delete")
				}
			} else {
				cfg["cleanup.policy"] = new("compact")
			}
			plan.internal[graph.ChangelogTopic(appID, s)] = internalTopic{partitions: plan.subPartitions[st.ID], configs: cfg, changelog: true}
		}
	}
	return plan, nil
}

// ensureInternalTopics creates the internal topics that do not exist and
// checks that those that do have the partition count and cleanup policy the
// app needs.
func ensureInternalTopics(ctx context.Context, adm *kadm.Client, plan *topicPlan) error {
	names := slices.Sorted(maps.Keys(plan.internal))
	if len(names) == 0 {
		return nil
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("streams: listing internal topics: %w", err)
	}
	var problems []string
	var check, created, raced []string
	for _, name := range names {
		want := plan.internal[name]
		d, ok := existing[name]
		if ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want.partitions {
				problems = append(problems, fmt.Sprintf("internal topic %q has %d partitions but the app needs %d; delete it (the app recreates it) or reset the app", name, got, want.partitions))
			}
			check = append(check, name)
			continue
		}
		if want.partitions <= 0 {
			continue // a sub-topology with no input yet: nothing to create
		}
		resp, err := adm.CreateTopic(ctx, want.partitions, -1, want.configs, name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists):
			// Another instance of the app, starting at the same time, made
			// it first: check it like any existing topic.
			raced = append(raced, name)
		case err != nil:
			problems = append(problems, fmt.Sprintf("creating internal topic %q: %v", name, err))
		default:
			created = append(created, name)
		}
	}
	if len(created)+len(raced) > 0 && len(problems) == 0 {
		// A topic another instance created is checked once it shows: a
		// wrong partition count fails waitForTopics' check below.
		if err := waitForTopics(ctx, adm, plan, append(created, raced...)); err != nil {
			return err
		}
		check = append(check, raced...)
	}
	if len(check) > 0 {
		cfgs, err := adm.DescribeTopicConfigs(ctx, check...)
		if err != nil {
			return fmt.Errorf("streams: describing internal topics: %w", err)
		}
		for _, rc := range cfgs {
			want := *plan.internal[rc.Name].configs["cleanup.policy"]
			got := "delete"
			for _, c := range rc.Configs {
				if c.Key == "cleanup.policy" && c.Value != nil {
					got = *c.Value
				}
			}
			if got != want {
				problems = append(problems, fmt.Sprintf("internal topic %q has cleanup.policy=%s but the app needs %s; delete it (the app recreates it) or alter its config", rc.Name, got, want))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return errors.New("streams: " + strings.Join(problems, "; "))
	}
	return nil
}

// waitForTopics waits until the topics just created show in the cluster's
// metadata with all their partitions and leaders: until then a task that
// reads them (a changelog's end offset, say) would not find them.
func waitForTopics(ctx context.Context, adm *kadm.Client, plan *topicPlan, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ready := true
		d, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			ready = false
		}
		for _, t := range topics {
			td, ok := d[t]
			if !ok || td.Err != nil || int32(len(td.Partitions)) != plan.internal[t].partitions {
				ready = false
				break
			}
			for _, p := range td.Partitions {
				if p.Err != nil || p.Leader < 0 {
					ready = false
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("streams: waiting for new internal topics %q to be ready: %w", topics, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
