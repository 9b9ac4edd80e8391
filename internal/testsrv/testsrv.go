// Package testsrv starts real database servers from Debian's packages for
// tests: Redis, PostgreSQL and MariaDB, each on a free loopback port in a
// temporary directory, stopped when the test ends.
//
// A server whose program is missing skips the test, except in CI (the
// CI variable set), where .ci/run installs every one of them and their
// absence fails the test.
package testsrv

import (
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Need finds a program by name or path glob (the newest match), skipping
// or failing the test when there is none.
func Need(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if m, _ := filepath.Glob(n); len(m) > 0 {
			return m[len(m)-1]
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (.ci/run installs it)", names[0])
	}
	t.Skipf("%s is not installed", names[0])
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tempDir is a directory removed when the test ends; unlike t.TempDir it
// may be handed to another user (PostgreSQL refuses to run as root).
func tempDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// waitTCP waits until addr accepts connections.
func waitTCP(t testing.TB, what, addr string, cmd *exec.Cmd) {
	t.Helper()
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if cmd.ProcessState != nil || i == 600 {
			t.Fatalf("%s did not start on %s: %v", what, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Redis is a running redis-server.
type Redis struct {
	Addr string // host:port
	cmd  *exec.Cmd
	args []string
}

// StartRedis runs redis-server without persistence, extra arguments
// appended to its command line (for example "--appendonly", "yes").
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin := Need(t, "redis-server")
	port := FreePort(t)
	r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir()}, extra...)
	r.cmd = exec.Command(bin, r.args...)
	r.start(t)
	t.Cleanup(r.Stop)
	return r
}

func (r *Redis) start(t testing.TB) {
	t.Helper()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitTCP(t, "redis-server", r.Addr, r.cmd)
}

// Stop kills the server.
func (r *Redis) Stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// Restart kills the server and starts it again on the same port and
// directory (what survives depends on the persistence arguments).
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	r.cmd = exec.Command(r.cmd.Path, r.args...)
	r.start(t)
}

// asUser makes cmd run as the system user name when the test runs as
// root, handing it dir.
func asUser(t testing.TB, name, dir string, argv ...string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		return exec.Command(argv[0], argv[1:]...)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return exec.Command("runuser", append([]string{"-u", name, "--"}, argv...)...)
}

// Postgres is a running PostgreSQL server with trust authentication for
// the user postgres.
type Postgres struct {
	Port int
	cmd  *exec.Cmd
	argv []string     // the server's command line, for Restart
	dir  string       // its directory
	seq  atomic.Int64 // numbers the schemas NewSchema makes
}

// StartPostgres runs Debian's PostgreSQL server (initdb, then postgres).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := filepath.Dir(Need(t, "initdb", "/usr/lib/postgresql/*/bin/initdb"))
	dir := tempDir(t, "pg")
	data := filepath.Join(dir, "data")
	if out, err := asUser(t, "postgres", dir, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p := &Postgres{Port: FreePort(t), dir: dir}
	p.argv = []string{filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *Postgres) start(t testing.TB) {
	t.Helper()
	p.cmd = asUser(t, "postgres", p.dir, p.argv...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitTCP(t, "postgres", fmt.Sprintf("127.0.0.1:%d", p.Port), p.cmd)
	waitDB(t, "pgx", p.DSN())
}

func (p *Postgres) stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	// pg_ctl's fast shutdown cuts the sessions, as an administrator's
	// restart does, and waits until the server is down (runuser does
	// not pass signals on).
	ctl := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(filepath.Dir(p.argv[0]), "pg_ctl"), "-D", p.argv[2], "stop", "-m", "fast", "-w")
	if os.Getuid() != 0 {
		ctl = exec.Command(ctl.Args[4], ctl.Args[5:]...)
	}
	if ctl.Run() != nil {
		p.cmd.Process.Kill()
	}
	p.cmd.Wait()
}

// Restart stops the server, cutting every session, and starts it again
// on the same port and data.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.stop()
	p.start(t)
}

// waitDB waits until a database/sql driver connects and pings.
func waitDB(t testing.TB, driver, dsn string) {
	t.Helper()
	var err error
	for i := 0; i < 600; i++ {
		var db *sql.DB
		if db, err = sql.Open(driver, dsn); err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not start: %v", driver, err)
}

// exec runs statements on a database/sql connection.
func execSQL(t testing.TB, driver, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// URL returns a postgres:// URL of database db (postgres when empty).
func (p *Postgres) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// NewSchema creates a schema of a unique name and returns a postgres://
// URL whose tables go there (search_path): an empty store for each call.
func (p *Postgres) NewSchema(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("s%d", p.seq.Add(1))
	execSQL(t, "pgx", p.DSN(), "CREATE SCHEMA "+name)
	return p.URL("") + "&search_path=" + name
}

// DSN returns a key=value connection string of database postgres.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", p.Port)
}

// MariaDB is a running MariaDB server whose root has no password.
type MariaDB struct {
	Port int
	cmd  *exec.Cmd
	seq  atomic.Int64 // numbers the databases NewDatabase makes
}

// StartMariaDB runs Debian's MariaDB server (mariadb-install-db, then
// mariadbd) with a small buffer pool.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	mysqld := Need(t, "mariadbd", "/usr/sbin/mariadbd")
	install := Need(t, "mariadb-install-db")
	dir := tempDir(t, "maria")
	data := filepath.Join(dir, "data")
	me := currentUser()
	if out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user="+me, "--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	m := &MariaDB{Port: FreePort(t)}
	m.cmd = exec.Command(mysqld, "--no-defaults", "--datadir="+data, "--port="+strconv.Itoa(m.Port), "--bind-address=127.0.0.1",
		"--socket="+filepath.Join(dir, "sock"), "--user="+me, "--skip-log-bin", "--innodb-buffer-pool-size=64M", "--max-connections=300")
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
	waitTCP(t, "mariadbd", fmt.Sprintf("127.0.0.1:%d", m.Port), m.cmd)
	waitDB(t, "mysql", m.DSN(""))
	return m
}

// DSN returns a Go MySQL driver DSN of database db as root.
func (m *MariaDB) DSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.Port, db)
}

// NewDatabase creates a database of a unique name and returns its
// mysql:// URL: an empty store for each call.
func (m *MariaDB) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("d%d", m.seq.Add(1))
	execSQL(t, "mysql", m.DSN(""), "CREATE DATABASE "+name)
	return m.URL(name)
}

// URL returns a mysql:// URL of database db as root.
func (m *MariaDB) URL(db string) string {
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", m.Port, db)
}

func currentUser() string {
	u, err := user.Current()
	if err != nil || strings.TrimSpace(u.Username) == "" {
		return "root"
	}
	return u.Username
}

// S3 is a running S3 service with one root key pair.
type S3 struct {
	Endpoint             string // http://127.0.0.1:PORT
	AccessKey, SecretKey string
	cmd                  *exec.Cmd
}

// Stop kills the server.
func (s *S3) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// startS3 runs a server command and waits for addr.
func startS3(t testing.TB, what string, s *S3, addr string, cmd *exec.Cmd) *S3 {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), what+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	s.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", what, b)
		}
	})
	waitTCP(t, what, addr, cmd)
	return s
}

// StartMinIO runs MinIO's server (a test tool; .ci/run installs it with
// go install) on a temporary directory.
func StartMinIO(t testing.TB) *S3 {
	t.Helper()
	home, _ := os.UserHomeDir()
	bin := Need(t, "minio", filepath.Join(home, "go/bin/minio"))
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &S3{Endpoint: "http://" + addr, AccessKey: "minioadmin", SecretKey: "minio-secret-key"}
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
	startS3(t, "minio", s, addr, cmd)
	waitHTTP(t, s.Endpoint+"/minio/health/ready")
	return s
}

// StartCairn runs `cairn server` from the binary bin on a temporary
// directory.
func StartCairn(t testing.TB, bin string) *S3 {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &S3{Endpoint: "http://" + addr, AccessKey: "cairnroot", SecretKey: "cairn-secret-key"}
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr)
	cmd.Env = append(os.Environ(), "CAIRN_ROOT_USER="+s.AccessKey, "CAIRN_ROOT_PASSWORD="+s.SecretKey)
	startS3(t, "cairn", s, addr, cmd)
	waitHTTP(t, s.Endpoint+"/health/ready")
	return s
}

// waitHTTP waits until url answers 200.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200", url)
}

// BuildCairn builds cmd/cairn into a temporary directory and returns the
// binary's path.
func BuildCairn(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "cairn")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd/cairn")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
