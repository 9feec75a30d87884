package postgres

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gostreams/streams/processor"
)

// classify marks err processor.Retriable when repeating the commit may
// succeed: the server is restarting or out of connections, the connection
// was lost (connClosed: the transaction's connection is closed after the
// failure), or the transaction lost a serialization conflict or a
// deadlock. A statement's own failure (syntax, a constraint) is not.
func classify(err error, connClosed bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch class := pgErr.Code[:min(2, len(pgErr.Code))]; {
		case class == "08", // connection exception
			class == "40",                                                       // transaction rollback: serialization failure, deadlock
			class == "53",                                                       // insufficient resources: too many connections
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutting down, crashed, starting
			pgErr.Code == "55P03": // lock not available
			return processor.Retriable(err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case connClosed, errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		strings.Contains(err.Error(), "conn closed"):
		return processor.Retriable(err)
	}
	return err
}

// alreadyExists reports the error of a CREATE TABLE IF NOT EXISTS that
// raced another one (PostgreSQL checks the catalog before it inserts).
func alreadyExists(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07")
}

func sortPartitions(tps []processor.TopicPartition) {
	slices.SortFunc(tps, func(a, b processor.TopicPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}

func undefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
