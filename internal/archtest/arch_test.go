package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const module = "cairn"

// allowed lists, for each project package (path below the module), the
// project packages it may import directly. A package missing from the
// table may not exist: add it here when it is added to CONVENTIONS.md.
var allowed = map[string][]string{
	"cmd/cairn":                    {"*"},
	"internal/posix":               {"internal/acl"},
	"internal/acl":                 {},
	"internal/meta":                {"internal/posix", "internal/acl", "internal/meta/kv"},
	"internal/meta/kv":             {},
	"internal/meta/kv/kvtest":      {"internal/meta/kv"},
	"internal/meta/kv/sqlkv":       {"internal/meta/kv"},
	"internal/meta/kv/rediskv":     {"internal/meta/kv"},
	"internal/meta/kv/etcdkv":      {"internal/meta/kv"},
	"internal/meta/kv/memkv":       {"internal/meta/kv"},
	"internal/meta/metatest":       {"internal/meta", "internal/meta/kv", "internal/posix", "internal/acl"},
	"internal/object":              {},
	"internal/object/objecttest":   {"internal/object"},
	"internal/object/file":         {"internal/object"},
	"internal/object/mem":          {"internal/object"},
	"internal/object/s3":           {"internal/object"},
	"internal/chunk":               {"internal/object"},
	"internal/vfs":                 {"internal/meta", "internal/chunk", "internal/posix", "internal/acl"},
	"internal/fusefs":              {"internal/vfs", "internal/posix", "internal/acl"},
	"internal/fusefs/powercutfs":   {},
	"internal/s3/s3err":            {},
	"internal/s3/sigv4":            {"internal/s3/s3err"},
	"internal/iam/policy":          {},
	"internal/iam":                 {"internal/iam/policy", "internal/posix", "internal/meta/kv"},
	"internal/s3/notify":           {"internal/meta", "internal/meta/kv", "internal/posix"},
	"internal/s3/notify/webhook":   {"internal/s3/notify"},
	"internal/s3/notify/redis":     {"internal/s3/notify"},
	"internal/s3/notify/sqltarget": {"internal/s3/notify"},
	"internal/s3/notify/nats":      {"internal/s3/notify"},
	"internal/s3/s3fs":             {"internal/vfs", "internal/posix"},
	"internal/s3/gateway":          {"internal/s3/s3err", "internal/s3/sigv4", "internal/iam", "internal/iam/policy", "internal/s3/notify", "internal/s3/s3fs", "internal/posix"},
	"internal/adminapi":            {"internal/iam", "internal/iam/policy", "internal/s3/sigv4", "internal/s3/s3err", "internal/s3/notify"},
	"internal/console":             {"internal/adminapi"}, // its Client only: the console reaches the admin API over HTTP as the signed-in user
	"internal/archtest":            {},
	"internal/testsrv":             {},
}

// thirdParty lists import path prefixes that only some packages may use.
var thirdParty = map[string][]string{
	"github.com/hanwen/go-fuse":      {"internal/fusefs", "internal/fusefs/powercutfs", "cmd/cairn"},
	"modernc.org/sqlite":             {"internal/meta/kv/sqlkv", "cmd/cairn"},
	"github.com/mattn/go-sqlite3":    {"internal/meta/kv/sqlkv", "cmd/cairn"},
	"github.com/ncruces/go-sqlite3":  {"internal/meta/kv/sqlkv", "cmd/cairn"},
	"github.com/redis/go-redis":      {"internal/meta/kv/rediskv", "internal/s3/notify/redis", "cmd/cairn"},
	"go.etcd.io/etcd":                {"internal/meta/kv/etcdkv", "cmd/cairn"},
	"github.com/jackc/pgx":           {"internal/meta/kv/sqlkv", "internal/s3/notify/sqltarget", "internal/testsrv", "cmd/cairn"},
	"github.com/go-sql-driver/mysql": {"internal/meta/kv/sqlkv", "internal/s3/notify/sqltarget", "internal/testsrv", "cmd/cairn"},
	"github.com/nats-io/nats.go":     {"internal/s3/notify/nats", "cmd/cairn"},
	"github.com/aws/aws-sdk-go-v2":   {"internal/object/s3", "internal/console", "cmd/cairn"},
	"github.com/minio/minio-go":      {"internal/object/s3", "cmd/cairn"},
	"github.com/minio/md5-simd":      {"internal/s3/s3fs"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// TestImports fails when a package imports a project package or a
// third-party engine its row of the table does not allow. Only non-test
// files count: tests may wire real engines together.
func TestImports(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		allow, known := allowed[rel]
		if !known {
			t.Errorf("package %s is not in the package table (internal/archtest/arch_test.go, CONVENTIONS.md §1)", rel)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") {
				dep := strings.TrimPrefix(imp, module+"/")
				if !contains(allow, dep) && !contains(allow, "*") {
					t.Errorf("%s imports %s, which its row of the package table does not allow", rel, dep)
				}
				continue
			}
			for prefix, users := range thirdParty {
				if strings.HasPrefix(imp, prefix) && !contains(users, rel) {
					t.Errorf("%s imports %s; only %v may", rel, imp, users)
				}
			}
		}
	}
}

var banned = regexp.MustCompile(`\bfmt\.Print|\blog\.(Print|Fatal|Panic)|"log"$`)

// TestNoPrintOutsideCmd keeps libraries to injected slog loggers.
func TestNoPrintOutsideCmd(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.HasPrefix(p.ImportPath, module+"/cmd/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			line := 0
			for sc.Scan() {
				line++
				text := strings.TrimSpace(sc.Text())
				if strings.HasPrefix(text, "//") {
					continue
				}
				if banned.MatchString(text) {
					t.Errorf("%s:%d: %q (libraries log through Options.Logger)", path, line, text)
				}
			}
			fh.Close()
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
