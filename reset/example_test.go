package reset_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gostreams/streams/internal/embedded"
	"github.com/gostreams/streams/reset"
)

// A dry run on an in-process Kafka: the app "wordcount" has read its two
// input partitions up to offsets 3 and 2, and has a store's changelog and a
// repartition topic. The plan lists what a reset would do; nothing changes
// until Execute.
func Example() {
	ctx := context.Background()
	cluster, _ := embedded.Start() // or the brokers of a real cluster
	defer cluster.Close()
	_ = cluster.CreateTopic(ctx, "lines", 2)
	_ = cluster.CreateTopic(ctx, "wordcount-counts-changelog", 2)
	_ = cluster.CreateTopic(ctx, "wordcount-counts-repartition", 2)
	_ = cluster.CreateTopic(ctx, "wordcount-output", 2) // an output topic: kept
	for i, p := range []int32{0, 0, 0, 1, 1} {
		_ = cluster.Produce(ctx, &kgo.Record{Topic: "lines", Partition: p, Value: fmt.Appendf(nil, "line %d", i)})
	}
	// What the app committed (here by hand, as if it had run).
	var committed kadm.Offsets
	committed.AddOffset("lines", 0, 3, -1)
	committed.AddOffset("lines", 1, 2, -1)
	_ = cluster.Admin().CommitAllOffsets(ctx, "wordcount", committed)

	cl, _ := kgo.NewClient(kgo.SeedBrokers(cluster.Addrs()...))
	defer cl.Close()
	plan, err := reset.NewPlan(ctx, cl, reset.Options{
		ApplicationID: "wordcount",
		InputTopics:   []string{"lines"},
		To:            reset.ToEarliest(), // the default
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan)
	// Then, for real: err = plan.Execute(ctx)

	// Output:
	// Consumer group "wordcount" has no active members.
	// Reset the committed offsets of the input topics to the earliest offset:
	//   lines-0: 3 -> 0
	//   lines-1: 2 -> 0
	// Delete the internal topics (inferred):
	//   wordcount-counts-changelog
	//   wordcount-counts-repartition
	// Local state is not touched: before starting any instance again, delete its state, App.CleanUp() or <Config.StateDir>/wordcount.
}
