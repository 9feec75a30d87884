package main

import "github.com/gostreams/streams/examples/internal/orders"

// The orders this example reads, shared with examples/enrichment.
type (
	Order      = orders.Order
	OrderError = orders.OrderError
)

// MaxAmount is the largest amount ParseOrder accepts.
const MaxAmount = orders.MaxAmount

var (
	// ParseOrder decodes and checks one order (orders.Parse).
	ParseOrder = orders.Parse
	// OrderSerde reads and writes orders as JSON, checking each one it
	// reads (orders.Serde).
	OrderSerde = orders.Serde
)
