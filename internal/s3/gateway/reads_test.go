package gateway_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
)

// readCounter is a kv.Store that counts the reads of inode records
// (attributes, entries, xattrs, chunks: the 'A' family) its transactions
// make.
type readCounter struct {
	kv.Store
	reads atomic.Int64
}

func (c *readCounter) Update(ctx context.Context, fn func(tx kv.Tx) error) error {
	return c.Store.Update(ctx, func(tx kv.Tx) error { return fn(&countingTx{tx, c}) })
}

func (c *readCounter) View(ctx context.Context, fn func(tx kv.Tx) error) error {
	return c.Store.View(ctx, func(tx kv.Tx) error { return fn(&countingTx{tx, c}) })
}

type countingTx struct {
	kv.Tx
	c *readCounter
}

func (t *countingTx) note(k []byte) {
	if len(k) > 0 && k[0] == 'A' {
		t.c.reads.Add(1)
	}
}

func (t *countingTx) Get(k []byte) ([]byte, error) { t.note(k); return t.Tx.Get(k) }
func (t *countingTx) Gets(ks ...[]byte) ([][]byte, error) {
	for _, k := range ks {
		t.note(k)
	}
	return t.Tx.Gets(ks...)
}
func (t *countingTx) Scan(b, e []byte, o kv.ScanOptions, fn func(k, v []byte) bool) error {
	t.note(b)
	return t.Tx.Scan(b, e, o, fn)
}

// A GET reads no more of the metadata in a bucket whose objects have ACLs
// of their own, with tags and a legal hold, than in a plain bucket: the
// ACL, tags and lock are in the metadata the GET reads anyway (the
// performance rule of S3 ACLs, tags and object lock).
func TestGetReadsNoMoreWithACLs(t *testing.T) {
	store := &readCounter{Store: memkv.New()}
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	ih := &iamHarness{store: store}
	ih.url, ih.ids, ih.vfs = startGatewayWith(t, store, mem.New(), s3fs.Options{}, gateway.Options{})
	u := ih.user(t, "reader", "readwrite")
	for _, b := range []string{"plain", "fancy"} {
		in := &s3.CreateBucketInput{Bucket: aws.String(b)}
		if b == "fancy" {
			in.ObjectLockEnabledForBucket = aws.Bool(true)
		}
		if _, err := u.CreateBucket(bg, in); err != nil {
			t.Fatal(err)
		}
	}
	ok(t, "plain", put(u, "plain", "k", "data"))
	_, err := u.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("fancy"), Key: aws.String("k"), Body: strings.NewReader("data"),
		ACL: types.ObjectCannedACLPublicRead, Tagging: aws.String("a=1&b=2"), ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	ok(t, "fancy", err)
	count := func(b string) int64 {
		ok(t, "warm "+b, get(u, b, "k")) // bucket states cached, as in steady use
		before := store.reads.Load()
		ok(t, "GET "+b, get(u, b, "k"))
		return store.reads.Load() - before
	}
	plain, fancy := count("plain"), count("fancy")
	if plain == 0 || fancy > plain {
		t.Fatalf("metadata reads of a GET: %d in a plain bucket, %d with an ACL, tags and a hold", plain, fancy)
	}
}
