package pgtest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// TestServerKeepsCommitsAcrossStop writes a row, stops the server, checks
// that it is really gone, starts it again and finds the row.
func TestServerKeepsCommitsAcrossStop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	began := time.Now()
	srv := Start(t)
	t.Logf("Start took %v", time.Since(began)) // for the curious; not asserted
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", srv.Port()), srv.URL())

	pool := srv.Pool(t, srv.URL())
	_, err := pool.Exec(ctx, `CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO kv VALUES ('a', 'before stop')`)
	require.NoError(t, err)
	require.Equal(t, []string{"a=before stop"}, rows(t, pool))

	srv.Stop(t)
	_, err = pool.Exec(ctx, `SELECT 1`)
	require.Error(t, err, "a query on a stopped server")
	_, err = pgx.Connect(ctx, srv.URL())
	var connectErr *pgconn.ConnectError
	require.ErrorAs(t, err, &connectErr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	srv.Stop(t) // a second Stop does nothing

	srv.StartAgain(t)
	// The pool's connections from before the stop are dead, and pgxpool
	// only pings a connection idle for over a second; Reset drops them.
	pool.Reset()
	require.Equal(t, []string{"a=before stop"}, rows(t, pool), "the committed row is there")

	_, err = pool.Exec(ctx, `INSERT INTO kv VALUES ('b', 'before restart')`)
	require.NoError(t, err)
	srv.Restart(t)
	require.Equal(t, []string{"a=before stop", "b=before restart"}, rows(t, srv.Pool(t, srv.URL())))
}

// TestServerKeepsCommitsAcrossImmediateStop checks the claim the package
// doc makes for fsync=off: with synchronous_commit on, a commit the server
// acknowledged survives the server dying without a shutdown checkpoint,
// through crash recovery.
func TestServerKeepsCommitsAcrossImmediateStop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := Start(t)
	pool := srv.Pool(t, srv.URL())
	_, err := pool.Exec(ctx, `CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO kv VALUES ('a', 'acknowledged')`)
	require.NoError(t, err)

	require.NoError(t, srv.stop("immediate"))
	srv.StartAgain(t)
	require.Equal(t, []string{"a=acknowledged"}, rows(t, srv.Pool(t, srv.URL())))
	require.Contains(t, srv.logTail(), "database system was interrupted", "the start after the immediate stop ran crash recovery")
}

// TestNewDatabaseIsolates makes two databases on the shared server and
// checks that a table in one is not in the other.
func TestNewDatabaseIsolates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := Shared(t)
	require.Same(t, srv, Shared(t), "one shared server per package")

	urlA, urlB := srv.NewDatabase(t), srv.NewDatabase(t)
	require.NotEqual(t, urlA, urlB)
	a, b := srv.Pool(t, urlA), srv.Pool(t, urlB)
	_, err := a.Exec(ctx, `CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	_, err = a.Exec(ctx, `INSERT INTO kv VALUES ('a', 'only in A')`)
	require.NoError(t, err)
	require.Equal(t, []string{"a=only in A"}, rows(t, a))

	_, err = b.Exec(ctx, `SELECT * FROM kv`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42P01", pgErr.Code, "undefined_table: %v", err)
}

// TestNewDatabaseDropsIt checks that a database made on the shared server
// is gone after its test, so that a package's tests do not fill the disk.
func TestNewDatabaseDropsIt(t *testing.T) {
	t.Parallel()
	srv := Shared(t)
	var url string
	t.Run("make", func(t *testing.T) {
		url = srv.NewDatabase(t)
		_ = srv.Pool(t, url) // closed before the drop
	})
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	conn, err := pgx.Connect(t.Context(), srv.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, cfg.Database).Scan(&n))
	require.Zero(t, n, "database %s dropped", cfg.Database)
}

// TestStartAgainReportsServerLog takes the server's port while it is
// stopped, so that it cannot start again, and checks that the error
// carries the server's own words from its log.
func TestStartAgainReportsServerLog(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	srv.Stop(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", srv.Port()))
	require.NoError(t, err)

	err = srv.startServer()
	require.ErrorContains(t, err, "could not bind", "the fault fired, and the log says so")
	require.ErrorContains(t, err, logName)
	require.False(t, srv.running())

	require.NoError(t, l.Close())
	srv.StartAgain(t)
	require.True(t, srv.running())
}

func TestCompareVersions(t *testing.T) {
	dirs := []string{"9.5", "15", "10", "9.6", "16"}
	slices.SortFunc(dirs, func(a, b string) int { return compareVersions(b, a) })
	require.Equal(t, []string{"16", "15", "10", "9.6", "9.5"}, dirs)
}

func TestDBPrefix(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"TestX", "pgtest_testx"},
		{"TestX/sub-test #1", "pgtest_testx_sub_test__1"},
		{"TestAVeryLongNameThatGoesOnAndOnAndOn", "pgtest_testaverylongnamethatgoesonandona"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dbPrefix(tc.name)
			require.Equal(t, tc.want, got)
			require.LessOrEqual(t, len(got)+len("_9223372036854775807"), 63, "fits a PostgreSQL identifier")
		})
	}
}

// rows reads kv as k=v, ordered by k.
func rows(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	r, err := pool.Query(t.Context(), `SELECT k, v FROM kv ORDER BY k`)
	require.NoError(t, err)
	kvs, err := pgx.CollectRows(r, func(row pgx.CollectableRow) (string, error) {
		var k, v string
		err := row.Scan(&k, &v)
		return k + "=" + v, err
	})
	require.NoError(t, err)
	return kvs
}
