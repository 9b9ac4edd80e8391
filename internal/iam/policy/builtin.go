package policy

import (
	"sort"
	"sync"
)

// builtinDocs are the policies every volume has, under MinIO's names so
// that `mc admin policy attach … readwrite` means what MinIO users expect.
var builtinDocs = map[string]string{
	// readonly reads any object it is given the name of, and finds
	// buckets' regions; it cannot list (as MinIO's readonly).
	"readonly": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["s3:GetBucketLocation","s3:GetObject"],"Resource":["arn:aws:s3:::*"]}]}`,
	// readwrite may do anything S3 allows, on every bucket.
	"readwrite": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}`,
	// writeonly uploads objects and nothing else.
	"writeonly": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}`,
	// consoleAdmin is everything: S3, the admin API, STS and KMS.
	"consoleAdmin": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["admin:*"],"Resource":["arn:aws:s3:::*"]},
		{"Effect":"Allow","Action":["kms:*","sts:*"],"Resource":["*"]},
		{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}`,
	// diagnostics reads the server's state, profiles and traces it.
	"diagnostics": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["admin:ServerInfo","admin:StorageInfo","admin:DataUsageInfo","admin:Prometheus",
			"admin:Profiling","admin:ServerTrace","admin:ConsoleLog","admin:OBDInfo",
			"admin:TopLocksInfo","admin:BandwidthMonitor"],
		"Resource":["arn:aws:s3:::*"]}]}`,
}

var builtins = sync.OnceValue(func() map[string]*Policy {
	m := make(map[string]*Policy, len(builtinDocs))
	for name, doc := range builtinDocs {
		p, err := Parse([]byte(doc))
		if err != nil {
			panic("policy: built-in " + name + ": " + err.Error()) // a bug in the table above; TestBuiltins
		}
		m[name] = p
	}
	return m
})

// Builtin returns the built-in policy name.
func Builtin(name string) (*Policy, bool) {
	p, ok := builtins()[name]
	return p, ok
}

// BuiltinNames returns the names of the built-in policies, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtinDocs))
	for n := range builtinDocs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
