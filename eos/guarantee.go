package eos

import "fmt"

// Guarantee is a delivery guarantee: how often each input record affects
// the output and the state if something fails.
type Guarantee int

const (
	// AtLeastOnce commits offsets only after the output of the processed
	// records is acknowledged: nothing is lost, and work done since the last
	// commit is repeated after a failure. The zero value.
	AtLeastOnce Guarantee = iota
	// AtMostOnce commits offsets before processing: nothing is repeated, and
	// records committed but not processed are lost after a failure.
	AtMostOnce
	// ExactlyOnce commits output, state changes and offsets in one
	// transaction.
	ExactlyOnce
)

func (g Guarantee) String() string {
	switch g {
	case AtLeastOnce:
		return "AtLeastOnce"
	case AtMostOnce:
		return "AtMostOnce"
	case ExactlyOnce:
		return "ExactlyOnce"
	}
	return fmt.Sprintf("Guarantee(%d)", int(g))
}
