package gateway_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/object/mem"
	"cairn/internal/object/objecttest"
)

// TestObjectStoreFaults: with the object store failing, a GET of an
// object whose blocks cannot be read and a PUT whose blocks cannot be
// written are S3 InternalError (500), never a short or wrong body; the
// failed PUT leaves the old object as it was (nothing acknowledged is
// lost, nothing half-written is visible); once the store recovers, both
// work.
func TestObjectStoreFaults(t *testing.T) {
	faulty := objecttest.NewFaulty(mem.New())
	h := newHarnessOn(t, faulty)
	h.mb(t, "bkt")
	old := bytes.Repeat([]byte("old-"), 512<<10/4) // 512 KiB: blocks, not inline
	put := func(body []byte) error {
		_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(body)})
		return err
	}
	if err := put(old); err != nil {
		t.Fatal(err)
	}
	faulty.Add(objecttest.Rule{Op: objecttest.OpGet})
	faulty.Add(objecttest.Rule{Op: objecttest.OpPut})
	out, err := h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err == nil {
		// The status may be sent before the first block fails: the body
		// must then end in an error, never short and clean.
		b, rerr := io.ReadAll(out.Body)
		out.Body.Close()
		if rerr == nil {
			t.Fatalf("GET with the store failing: %d bytes and no error", len(b))
		}
	} else if code(err) != "InternalError" || httpStatus(err) != 500 {
		t.Fatalf("GET with the store failing: %v, want InternalError", err)
	}
	if err := put(bytes.Repeat([]byte("new-"), 512<<10/4)); code(err) != "InternalError" || httpStatus(err) != 500 {
		t.Fatalf("PUT with the store failing: %v, want InternalError", err)
	}
	faulty.Clear()
	got, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil || got != string(old) {
		t.Fatalf("after the store recovered: %d bytes (want the old %d), %v", len(got), len(old), err)
	}
	if err := put([]byte("fine")); err != nil {
		t.Fatalf("PUT after the store recovered: %v", err)
	}
}
