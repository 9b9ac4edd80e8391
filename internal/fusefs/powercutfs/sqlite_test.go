//go:build linux

package powercutfs

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// TestSQLite runs real SQLite in WAL mode with synchronous=FULL (as
// sqlkv does) on the mount, cuts while a writer commits as fast as it
// can, and checks that every commit that returned before the cut is in
// the database, which passes integrity_check. (With synchronous=OFF the
// same test loses everything, the table included.)
func TestSQLite(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			lower := newLower(t, nil)
			f, mnt := mountT(t, lower)
			c, err := sqlite3.Open(filepath.Join(mnt, "meta.db"))
			mustNil(t, err)
			defer c.Close()
			for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "wal_autocheckpoint(50)"} {
				mustNil(t, c.Exec("PRAGMA "+p))
			}
			mustNil(t, c.Exec("CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB)"))
			var committed atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := int64(1); ; i++ {
					if c.Exec(fmt.Sprintf("INSERT INTO kv VALUES(%d, randomblob(2000))", i)) != nil {
						return // the cut
					}
					committed.Store(i)
				}
			}()
			time.Sleep(time.Duration(150+round*200) * time.Millisecond)
			want := committed.Load()
			cut(t, f)
			<-done
			rows, check := queryCheck(t, filepath.Join(lower, "meta.db"))
			t.Logf("%d commits returned before the cut; %d rows after; integrity %s", want, rows, check)
			if rows < want || check != "ok" {
				t.Fatal("commits lost or database corrupt")
			}
		})
	}
}

func queryCheck(t *testing.T, path string) (rows int64, check string) {
	t.Helper()
	c, err := sqlite3.Open(path)
	mustNil(t, err)
	defer c.Close()
	st, _, err := c.Prepare("SELECT (SELECT count(*) FROM kv), (SELECT group_concat(integrity_check) FROM pragma_integrity_check)")
	mustNil(t, err)
	defer st.Close()
	if !st.Step() {
		t.Fatal(st.Err())
	}
	return st.ColumnInt64(0), st.ColumnText(1)
}
