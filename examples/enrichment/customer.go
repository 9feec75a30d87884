package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gostreams/streams/serde"
)

// Customer is one version of a customer, the value of a record of the
// customers topic; a deletion is a tombstone (a nil value) there.
type Customer struct {
	CustomerID string    `json:"customerId"`
	Name       string    `json:"name"`
	Tier       string    `json:"tier"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// CustomerLine is a line of the customers file: a version of a customer,
// or, with Deleted, its deletion at UpdatedAt.
type CustomerLine struct {
	Customer
	Deleted bool
}

// customerLine is a line as written: pointers tell a missing field.
type customerLine struct {
	CustomerID *string `json:"customerId"`
	Name       *string `json:"name"`
	Tier       *string `json:"tier"`
	UpdatedAt  *string `json:"updatedAt"`
	Deleted    bool    `json:"deleted"`
}

// ParseCustomer decodes and checks one line of the customers file. It
// requires customerId (not empty) and updatedAt (an RFC 3339 time from 1970
// on), and name and tier unless the line deletes the customer.
func ParseCustomer(data []byte) (CustomerLine, error) {
	var l customerLine
	if err := json.Unmarshal(data, &l); err != nil {
		return CustomerLine{}, fmt.Errorf("not a JSON customer object (%v); write one object per line, such as %s", err, exampleCustomer)
	}
	switch {
	case l.CustomerID == nil || *l.CustomerID == "":
		return CustomerLine{}, fmt.Errorf(`missing or empty "customerId"; every line names its customer`)
	case l.UpdatedAt == nil:
		return CustomerLine{}, fmt.Errorf(`missing "updatedAt"; every line has an RFC 3339 time, such as "2024-05-01T09:30:00Z"`)
	case !l.Deleted && (l.Name == nil || l.Tier == nil):
		return CustomerLine{}, fmt.Errorf(`customer %q: missing "name" or "tier"; a line that does not delete the customer ("deleted": true) has both`, *l.CustomerID)
	}
	t, err := time.Parse(time.RFC3339, *l.UpdatedAt)
	if err != nil {
		return CustomerLine{}, fmt.Errorf(`"updatedAt" %q is not an RFC 3339 time; write it as "2024-05-01T09:30:00Z"`, *l.UpdatedAt)
	}
	if t.Before(time.Unix(0, 0)) {
		return CustomerLine{}, fmt.Errorf(`"updatedAt" %q is before 1970, which Kafka timestamps cannot hold`, *l.UpdatedAt)
	}
	c := CustomerLine{Customer: Customer{CustomerID: *l.CustomerID, UpdatedAt: t}, Deleted: l.Deleted}
	if l.Name != nil {
		c.Name = *l.Name
	}
	if l.Tier != nil {
		c.Tier = *l.Tier
	}
	return c, nil
}

const exampleCustomer = `{"customerId":"alice","name":"Alice","tier":"gold","updatedAt":"2024-05-01T09:00:00Z"}`

// CustomerSerde writes customers as JSON; nil is a tombstone.
var CustomerSerde = serde.Nullable(serde.JSON[Customer]())
