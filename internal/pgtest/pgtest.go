package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// superuser is the role initdb creates and every URL connects as.
	superuser = "postgres"
	// systemUser is the account the server runs as when the tests run as
	// root, which PostgreSQL refuses to run as.
	systemUser = "postgres"
	// logName is the server's log, in the data directory.
	logName = "server.log"
	// pgctlWait is how long pg_ctl -w waits for a start or a stop; a
	// command is killed a minute after that.
	pgctlWait = 60 * time.Second
	// startAttempts bounds the retries when another process takes the free
	// port between our picking it and the server binding it.
	startAttempts = 5
)

// Server is a PostgreSQL server running on 127.0.0.1 for tests, with
// trust authentication for the superuser postgres. Its methods may be
// called from parallel tests, but Stop, StartAgain and Restart only on a
// server of the test's own (from Start).
type Server struct {
	bin    binaries
	dir    string // data directory, which holds the log and the unix socket too
	port   int
	runAs  *systemAccount // nil: run the commands as ourselves
	shared bool           // from Shared: Main stops it, and no test may
	dbs    atomic.Int64   // databases made by NewDatabase, for unique names

	mu struct {
		sync.Mutex
		running bool
	}
}

// systemAccount is the account the server runs as when we are root.
type systemAccount struct {
	name     string
	uid, gid int
	runuser  string // path of runuser
}

// binaries are the PostgreSQL programs, by absolute path.
type binaries struct {
	initdb, pgctl, postgres string
}

// Start starts a server of the test's own in a fresh data directory and
// registers a tb.Cleanup that stops it (immediately: its data is thrown
// away) and removes the directory. It fails the test if PostgreSQL is not
// installed or will not start, with the tail of the server's log. It
// takes a second or two, nearly all of it initdb; a test that does not
// stop the server can share one instead (Shared).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.destroy(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// URL is the connection URL of the server's postgres database, for
// example postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
func (s *Server) URL() string { return s.databaseURL("postgres") }

// Port is the TCP port the server listens on, on 127.0.0.1. It stays the
// same across Stop and StartAgain.
func (s *Server) Port() int { return s.port }

// Dir is the server's data directory, which also holds its log
// (server.log). It is removed when the server is stopped for good.
func (s *Server) Dir() string { return s.dir }

// NewDatabase creates a database with a name no other call on s has used
// and returns its URL, so that tests sharing one server do not see each
// other's tables. A tb.Cleanup drops it (closing any connection still on
// it) if the server is running then; register pools on it after this call
// so that they close first.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("%s_%d", dbPrefix(tb.Name()), s.dbs.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	if err := s.exec("CREATE DATABASE " + ident); err != nil {
		tb.Fatalf("pgtest: create database %s: %v%s", name, err, s.logTail())
	}
	tb.Cleanup(func() {
		if !s.running() {
			return // stopped by the test; Start's cleanup removes it all
		}
		if err := s.exec("DROP DATABASE " + ident + " WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.databaseURL(name)
}

// Pool opens a pgx pool on url (one of s's URLs, or any other) and closes
// it in a tb.Cleanup. The pool connects lazily, so it may be made while
// the server is stopped.
func (s *Server) Pool(tb testing.TB, url string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgtest: pool on %s: %v", url, err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Stop stops the server the way an operator would (pg_ctl stop -m fast:
// sessions are ended, transactions in flight roll back, what was
// committed is kept) and waits until it has gone. Connections then fail
// until StartAgain, and those open now stay dead after it: a pgxpool
// pings only a connection idle for over a second, so the first query on
// each may fail (Reset the pool to drop them). Stop on a stopped server
// does nothing. It fails the test if s is the shared server.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.ownedBy(tb, "Stop")
	if err := s.stop("fast"); err != nil {
		tb.Fatal(err)
	}
}

// StartAgain starts a stopped server again on the same port and data
// directory, with everything that was committed before the stop, and
// waits until it accepts connections. It fails the test if the server is
// running, if s is the shared server, or if the server does not start
// (with the tail of its log; the port may have been taken meanwhile).
func (s *Server) StartAgain(tb testing.TB) {
	tb.Helper()
	s.ownedBy(tb, "StartAgain")
	if s.running() {
		tb.Fatal("pgtest: StartAgain on a server that is running; call Stop first")
	}
	if err := s.startServer(); err != nil {
		tb.Fatal(err)
	}
}

// Restart is Stop followed by StartAgain.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	s.StartAgain(tb)
}

func (s *Server) ownedBy(tb testing.TB, method string) {
	tb.Helper()
	if s.shared {
		tb.Fatalf("pgtest: %s on the shared server would pull it from under the package's other tests; use pgtest.Start for a server of the test's own", method)
	}
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.running
}

func (s *Server) databaseURL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, db)
}

// exec runs one statement on the postgres database on a connection of its
// own: CREATE DATABASE cannot run in a transaction, and a pool would
// outlive the call.
func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgctlWait)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// dbPrefix turns a test's name into the start of a database name, to show
// in the server's log which test a database belongs to.
func dbPrefix(testName string) string {
	var b strings.Builder
	b.WriteString("pgtest_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 40 { // identifiers are cut at 63 bytes
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// start makes a data directory, initdb's it and starts a server on it.
func start() (_ *Server, err error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.runAs, err = lookupSystemAccount(); err != nil {
			return nil, err
		}
	}
	// Not t.TempDir: its parents are 0700 and root's, so under root the
	// postgres user could not reach it.
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: data directory: %w", err)
	}
	defer func() {
		if err != nil {
			if derr := s.destroy(); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()
	if err := s.chown(); err != nil {
		return nil, err
	}
	if out, err := s.command(bin.initdb,
		"-D", s.dir, "-U", superuser, "--auth=trust", "-E", "UTF8",
		"--locale=C", // the environment's locale may not be installed; C sorts the same everywhere
		"--no-sync",
	); err != nil {
		hint := ""
		if s.runAs != nil {
			hint = fmt.Sprintf("\n(the %s user must be able to reach %s; is TMPDIR a directory only root may enter?)", s.runAs.name, s.dir)
		}
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s%s", err, out, hint)
	}
	if err := s.configure(); err != nil {
		return nil, err
	}
	// Another process may bind the free port before the server does; then
	// pick another.
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		err = s.startServer()
		if err == nil {
			return s, nil
		}
		if attempt == startAttempts || !strings.Contains(err.Error(), "could not bind") {
			return nil, err
		}
	}
}

// configure appends the test settings to postgresql.conf, where a later
// line wins over initdb's. The port is not among them: startServer
// passes it, so that a retry on another port need not edit the file.
func (s *Server) configure() error {
	conf := fmt.Sprintf(`
# pgtest
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 200
# Only processes are ever killed in tests, never the machine, so what the
# kernel holds is as good as what the disk holds ...
fsync = off
full_page_writes = off
# ... but a commit must reach the kernel before it is acknowledged: tests
# check that an acknowledged commit outlives the server.
synchronous_commit = on
`, strings.ReplaceAll(s.dir, "'", "''"))
	f, err := os.OpenFile(filepath.Join(s.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: configure: %w", err)
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return fmt.Errorf("pgtest: configure: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pgtest: configure: %w", err)
	}
	return s.chown()
}

// startServer starts the server on s.dir and s.port and waits until it
// accepts connections.
func (s *Server) startServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.command(s.bin.pgctl, "start", "-w", "-t", strconv.Itoa(int(pgctlWait/time.Second)),
		"-D", s.dir, "-l", filepath.Join(s.dir, logName), "-p", s.bin.postgres,
		"-o", "-p "+strconv.Itoa(s.port))
	if err != nil {
		// pg_ctl may give up waiting on a server that is still coming up;
		// stop it so that nothing outlives the error.
		_, _ = s.command(s.bin.pgctl, "stop", "-w", "-m", "immediate", "-D", s.dir)
		return fmt.Errorf("pgtest: start server on port %d: %w\n%s%s", s.port, err, out, s.logTail())
	}
	s.mu.running = true
	return nil
}

// stop stops the server with pg_ctl stop -m mode, if it is running.
func (s *Server) stop(mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.running {
		return nil
	}
	out, err := s.command(s.bin.pgctl, "stop", "-w", "-t", strconv.Itoa(int(pgctlWait/time.Second)), "-m", mode, "-D", s.dir)
	if err != nil {
		return fmt.Errorf("pgtest: stop server (-m %s): %w\n%s%s", mode, err, out, s.logTail())
	}
	s.mu.running = false
	return nil
}

// destroy stops the server, if it runs, and removes its directory. The
// directory goes even when the stop fails: a postmaster whose lock file
// is gone shuts itself down within a minute.
func (s *Server) destroy() error {
	var errs []error
	if s.bin.pgctl != "" {
		errs = append(errs, s.stop("immediate"))
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: remove data directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// command runs a PostgreSQL program, as the postgres user if we are root,
// and returns what it printed.
func (s *Server) command(name string, args ...string) ([]byte, error) {
	if s.runAs != nil {
		args = append([]string{"-u", s.runAs.name, "--", name}, args...)
		name = s.runAs.runuser
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*pgctlWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// A directory the postgres user may enter; the test's own may not be.
	cmd.Dir = s.dir
	cmd.Env = serverEnv()
	// The server pg_ctl starts writes to the log file, not to our pipe,
	// but should a stray child hold it, do not wait on it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// serverEnv is our environment without the PG variables (PGDATA, PGPORT,
// PGOPTIONS, ...), which would override what the commands are told.
func serverEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}

// chown gives the data directory and everything in it to the postgres
// user when we are root.
func (s *Server) chown() error {
	if s.runAs == nil {
		return nil
	}
	err := filepath.WalkDir(s.dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, s.runAs.uid, s.runAs.gid)
	})
	if err != nil {
		return fmt.Errorf("pgtest: give %s to the %s user: %w", s.dir, s.runAs.name, err)
	}
	return nil
}

// logTail is the end of the server's log, to append to an error.
func (s *Server) logTail() string {
	const tailBytes = 4 << 10
	f, err := os.Open(filepath.Join(s.dir, logName))
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		_, _ = f.Seek(-tailBytes, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	if len(b) == tailBytes {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:] // from the first whole line
		}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", filepath.Join(s.dir, logName), b)
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lookupSystemAccount() (*systemAccount, error) {
	u, err := user.Lookup(systemUser)
	if err != nil {
		return nil, fmt.Errorf("pgtest: PostgreSQL refuses to run as root, and the tests run as root, but there is no %s user to run it as (%v); run `make setup` or `apt-get install -y postgresql`, which create it", systemUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %s user's uid %q: %w", systemUser, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %s user's gid %q: %w", systemUser, u.Gid, err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, fmt.Errorf("pgtest: PostgreSQL refuses to run as root, and runuser (util-linux), which would run it as %s, is not on PATH: %w", systemUser, err)
	}
	return &systemAccount{name: systemUser, uid: uid, gid: gid, runuser: runuser}, nil
}

// findBinaries looks the programs up once per test binary.
var findBinaries = sync.OnceValues(func() (binaries, error) {
	if b, ok := binariesIn(exec.LookPath); ok {
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Highest version first: 15 before 9.6, 9.6 before 9.5.
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range dirs {
		if b, ok := binariesIn(func(name string) (string, error) { return exec.LookPath(filepath.Join(dir, name)) }); ok {
			return b, nil
		}
	}
	return binaries{}, errors.New("pgtest: PostgreSQL is not installed: initdb, pg_ctl and postgres are neither on PATH nor in /usr/lib/postgresql/*/bin; run `make setup` or `apt-get install -y postgresql`")
})

// binariesIn finds all three programs with look, or reports that it
// could not; a mix of versions from different places is not wanted.
func binariesIn(look func(string) (string, error)) (binaries, bool) {
	var b binaries
	for _, p := range []struct {
		name string
		path *string
	}{{"initdb", &b.initdb}, {"pg_ctl", &b.pgctl}, {"postgres", &b.postgres}} {
		path, err := look(p.name)
		if err != nil {
			return binaries{}, false
		}
		if *p.path, err = filepath.Abs(path); err != nil {
			return binaries{}, false
		}
	}
	return b, true
}

// compareVersions orders PostgreSQL version directories such as "15" and
// "9.6" numerically, part by part.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

// shared is the server behind Shared, which Main stops.
var shared struct {
	mu struct {
		sync.Mutex
		main bool    // Main is running the package's tests
		srv  *Server // started by the first Shared
		err  error   // why it would not start; later tests fail with it too
	}
}

// Shared returns the package's shared server, starting it on the first
// call. It needs the package's TestMain to be
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// which stops the server after the last test: a tb.Cleanup would stop it
// after the first. Without Main it fails the test rather than leave a
// server running when the tests end. Tests on the shared server keep
// apart with NewDatabase, and may not Stop it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.mu.main {
		tb.Fatal("pgtest: Shared needs the package's TestMain to stop the server after the last test; add func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	if shared.mu.srv == nil && shared.mu.err == nil {
		shared.mu.srv, shared.mu.err = start()
		if shared.mu.srv != nil {
			shared.mu.srv.shared = true
		}
	}
	if shared.mu.err != nil {
		tb.Fatal(shared.mu.err)
	}
	return shared.mu.srv
}

// Main runs the package's tests and then stops the server Shared started,
// if any, and removes its directory. Call it from TestMain, as Shared
// says. If the tests passed but the server would not stop, it exits with
// status 1.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.mu.main = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	srv := shared.mu.srv
	shared.mu.srv, shared.mu.main = nil, false
	shared.mu.Unlock()
	if srv == nil {
		return
	}
	if err := srv.destroy(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			os.Exit(1)
		}
	}
}
