package sqltarget_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/sqltarget"
)

// need finds a server program; it skips where it is missing, except in
// CI, where .ci/run installs it and its absence fails the test.
func need(t *testing.T, names ...string) string {
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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// asUser runs a server program as name when the test runs as root (as
// PostgreSQL requires), in dir, which it then owns.
func asUser(t *testing.T, name, dir string, argv ...string) *exec.Cmd {
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

func waitDB(t *testing.T, driver, dsn string) {
	t.Helper()
	for i := 0; ; i++ {
		db, err := sql.Open(driver, dsn)
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return
		}
		if i == 300 {
			t.Fatalf("%s did not start: %v", driver, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPostgres runs a PostgreSQL server (Debian's) for the test and
// returns its connection string.
func startPostgres(t *testing.T) string {
	bin := filepath.Dir(need(t, "initdb", "/usr/lib/postgresql/*/bin/initdb"))
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if out, err := asUser(t, "postgres", dir, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := asUser(t, "postgres", dir, filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-F")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)
	waitDB(t, "pgx", dsn)
	return dsn
}

// startMariaDB runs a MariaDB server (Debian's) for the test and returns
// a DSN of its database "events".
func startMariaDB(t *testing.T) string {
	mysqld := need(t, "mariadbd", "/usr/sbin/mariadbd")
	install := need(t, "mariadb-install-db")
	dir, err := os.MkdirTemp("", "maria")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user="+currentUser(), "--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := exec.Command(mysqld, "--no-defaults", "--datadir="+data, "--port="+strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--socket="+filepath.Join(dir, "sock"), "--user="+currentUser(), "--skip-log-bin", "--innodb-buffer-pool-size=32M")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	waitDB(t, "mysql", root)
	db, _ := sql.Open("mysql", root)
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE events"); err != nil {
		t.Fatal(err)
	}
	return root + "events"
}

func currentUser() string {
	u, err := user.Current()
	if err != nil {
		return "root"
	}
	return u.Username
}

func message(t *testing.T, seq uint64, ev, key string) *notify.Message {
	t.Helper()
	m, err := notify.NewMessage(&meta.Record{Seq: seq, Time: time.Now().UnixNano(), Op: meta.OpPublish,
		S3: &meta.Publish{Event: ev, Bucket: "b", Key: key, Size: 3, ETag: "e"}}, "us-east-1", "r1")
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

// check sends a namespace target and an access target the same events
// and reads the tables back.
func check(t *testing.T, engine, driver, dsn, keyCol string) {
	ctx := context.Background()
	ns, err := sqltarget.New(sqltarget.Config{ID: "1", Engine: engine, DSN: dsn, Table: "objects"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	log, err := sqltarget.New(sqltarget.Config{ID: "2", Engine: engine, DSN: dsn, Table: "events_log", Format: "access"})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if ns.ARN() != "arn:minio:sqs::1:"+engine {
		t.Fatalf("ARN %s", ns.ARN())
	}
	for i, m := range []*notify.Message{
		message(t, 1, "ObjectCreated:Put", "a b"), message(t, 2, "ObjectCreated:Put", "c"),
		message(t, 3, "ObjectTagging:Put", "c"), message(t, 4, "ObjectRemoved:Delete", "a b"),
	} {
		for _, tg := range []*sqltarget.Target{ns, log} {
			if err := tg.Send(ctx, m); err != nil {
				t.Fatalf("send %d to %s: %v", i, tg.ARN(), err)
			}
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT " + keyCol + ", value FROM objects")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	rows.Close()
	var doc struct {
		Records []struct {
			EventName string `json:"eventName"`
		}
	}
	if len(got) != 1 || json.Unmarshal([]byte(got["b/c"]), &doc) != nil || doc.Records[0].EventName != "ObjectTagging:Put" {
		t.Fatalf("namespace table: %v", got)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM events_log").Scan(&n); err != nil || n != 4 {
		t.Fatalf("access table: %d rows (%v), want 4", n, err)
	}
}

func TestPostgres(t *testing.T) {
	check(t, "postgres", "pgx", startPostgres(t), "key")
}

func TestMySQL(t *testing.T) {
	check(t, "mysql", "mysql", startMariaDB(t), "key_name")
}

func TestBadConfig(t *testing.T) {
	for _, c := range []sqltarget.Config{
		{ID: "x", Engine: "oracle", DSN: "d", Table: "t"},
		{ID: "x", Engine: "postgres", DSN: "d", Table: "t; DROP TABLE u"},
		{ID: "x", Engine: "mysql", DSN: "d", Table: "t", Format: "columns"},
		{ID: "x", Engine: "mysql", Table: "t"},
	} {
		if _, err := sqltarget.New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
