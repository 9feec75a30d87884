// Package pgtest starts real PostgreSQL servers for tests: initdb into a
// fresh directory, pg_ctl start on a free port of 127.0.0.1, and a
// cleanup that stops the server and removes the directory. Nothing is
// mocked; a test talks to the same server binary production does.
//
// A [Server] is one running postmaster. [Start] gives a test a server of
// its own, stopped when the test ends; only such a server may be stopped
// and started again ([Server.Stop], [Server.StartAgain],
// [Server.Restart]), which is what a test of "the database went away for a
// few seconds" needs. [Shared] gives every test of a package the same
// server, started by the first test that asks and stopped by [Main] after
// the last; its tests keep apart by each taking a database of its own
// with [Server.NewDatabase]:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		srv := pgtest.Shared(t)
//		pool := srv.Pool(t, srv.NewDatabase(t))
//		...
//	}
//
// The binaries are initdb, pg_ctl and postgres from PATH, else from the
// highest-numbered /usr/lib/postgresql/*/bin (Debian's layout); `make
// setup` installs them. A test that cannot find them fails rather than
// skips, so a machine without PostgreSQL cannot pass by not testing.
//
// PostgreSQL refuses to run as root. Under root the server runs as the
// postgres system user (through runuser), and its directory is made under
// os.TempDir and handed to that user, since t.TempDir's parents are
// root's and closed to everyone else.
//
// The servers trade crash safety of the operating system for speed (fsync
// and full_page_writes are off) but not crash safety of the server:
// synchronous_commit stays on, so a commit the server acknowledged has
// reached the kernel and survives the server being stopped, fast or
// immediate, or killed. Only a crash of the machine could lose it.
package pgtest
