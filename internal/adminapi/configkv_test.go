package adminapi

import (
	"reflect"
	"testing"
)

func TestParseKVLine(t *testing.T) {
	for in, want := range map[string]kvLine{
		`notify_webhook:hook endpoint=http://h/ auth_token=`:          {"notify_webhook", "hook", [][2]string{{"endpoint", "http://h/"}, {"auth_token", ""}}},
		`notify_postgres:pg connection_string="host=h port=5432"`:     {"notify_postgres", "pg", [][2]string{{"connection_string", "host=h port=5432"}}},
		`notify_redis  address=r:6379   key=k`:                        {"notify_redis", "", [][2]string{{"address", "r:6379"}, {"key", "k"}}},
		`notify_mysql:m dsn_string="u:p@tcp(h:3306)/db" table=events`: {"notify_mysql", "m", [][2]string{{"dsn_string", "u:p@tcp(h:3306)/db"}, {"table", "events"}}},
		`notify_webhook:w`: {"notify_webhook", "w", nil},
	} {
		got, err := parseKVLine(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
		again, err := parseKVLine(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%s written back as %q reads %+v %v", in, got.String(), again, err)
		}
	}
	for _, bad := range []string{``, `endpoint=x`, `notify_webhook:w endpoint`, `notify_webhook:w endpoint="open`, `notify_webhook:w a="b"c=d`, `notify_webhook:w =v`, `:w a=b`} {
		if l, err := parseKVLine(bad); err == nil {
			t.Errorf("%q: accepted as %+v", bad, l)
		}
	}
	lines, err := parseKVLines("# a comment\n\nnotify_webhook:a endpoint=x\nnotify_webhook:b endpoint=y\n")
	if err != nil || len(lines) != 2 || lines[1].target != "b" {
		t.Fatalf("lines %+v %v", lines, err)
	}
}

// FuzzParseKVLine: any input is read without a panic, and a line read is
// written back as one that reads the same.
func FuzzParseKVLine(f *testing.F) {
	for _, s := range []string{`notify_webhook:hook endpoint=http://h/ auth_token=`, `notify_postgres:pg connection_string="host=h port=5432"`, `a b="`, `x:y z=" "`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseKVLine(s)
		if err != nil {
			return
		}
		again, err := parseKVLine(l.String())
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("%q read as %+v, written as %q, read back as %+v %v", s, l, l.String(), again, err)
		}
	})
}
