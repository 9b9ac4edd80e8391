package sqltarget_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/sqltarget"
	"cairn/internal/testsrv"
)

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
	check(t, "postgres", "pgx", testsrv.StartPostgres(t).DSN(), "key")
}

func TestMySQL(t *testing.T) {
	m := testsrv.StartMariaDB(t)
	u := m.NewDatabase(t)
	check(t, "mysql", "mysql", m.DSN(u[strings.LastIndex(u, "/")+1:]), "key_name")
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
