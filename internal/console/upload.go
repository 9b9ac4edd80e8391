package console

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// singlePutMax is the largest upload sent as one PutObject; larger
	// ones go as a multipart upload.
	singlePutMax = 32 << 20
	// partSize is the size of a multipart upload's parts (grown for
	// files so large that 10,000 parts would not hold them).
	partSize = 16 << 20
	// partsInFlight parts of one upload are sent to the gateway at once.
	partsInFlight = 4
	// uploadMemory bounds the part buffers of every upload together.
	uploadMemory = 1 << 30
	// maxObjectSize is S3's largest object (5 TiB).
	maxObjectSize = 5 << 40
)

// upload stores the request's body as an object. The browser sends the
// file as is (PUT with its length), so the bytes stream through: one
// PutObject for small files, a multipart upload in parts sent a few at a
// time for large ones. A browser that cancels ends the request, and an
// unfinished multipart upload is aborted.
func (c *Console) upload(k *call) error {
	q := k.r.URL.Query() // not FormValue: that would read a form body
	bucket, key := q.Get("bucket"), q.Get("key")
	if err := checkName(bucket, key); err != nil {
		return err
	}
	if key == "" {
		return badRequest("An object needs a name.")
	}
	size := k.r.ContentLength
	if size < 0 {
		return &userError{status: http.StatusLengthRequired, msg: "The upload must say its length."}
	}
	if size > maxObjectSize {
		return &userError{status: http.StatusRequestEntityTooLarge, msg: "An object holds at most 5 TiB."}
	}
	ct := k.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx, cl := k.r.Context(), k.se.s3
	var etag string
	if size <= singlePutMax {
		out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: k.r.Body, ContentLength: &size,
			ContentType: &ct}, unsignedPayload)
		if err != nil {
			return err
		}
		etag = aws.ToString(out.ETag)
	} else {
		var err error
		if etag, err = c.multipart(ctx, cl, bucket, key, ct, k.r.Body, size); err != nil {
			return err
		}
	}
	writeJSON(k.w, http.StatusOK, map[string]any{"key": key, "size": size, "etag": etag})
	return nil
}

// multipart uploads size bytes of body as bucket/key in parts.
func (c *Console) multipart(ctx context.Context, cl *s3.Client, bucket, key, ct string, body io.Reader, size int64) (string, error) {
	ps := int64(partSize)
	for size/ps >= 10000 {
		ps *= 2
	}
	mu, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key, ContentType: &ct})
	if err != nil {
		return "", err
	}
	id := mu.UploadId
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := cl.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: id}); err != nil {
			c.log.Warn("console: abort of an unfinished upload failed", "bucket", bucket, "key", key, "err", err)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		mu2      sync.Mutex
		parts    []types.CompletedPart
		inFlight = make(chan struct{}, partsInFlight)
		cutOff   bool
	)
reading:
	for n, left := int32(1), size; left > 0 && ctx.Err() == nil; n++ {
		// Each part's buffer is its own (never reused while a request may
		// still read it), and every upload together holds at most
		// uploadMemory of them.
		chunkLen := min(ps, left)
		if err := c.buffers.Acquire(ctx, chunkLen); err != nil {
			break
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			c.buffers.Release(chunkLen)
			break reading
		}
		chunk := make([]byte, chunkLen)
		if _, err := io.ReadFull(body, chunk); err != nil {
			cutOff = ctx.Err() == nil
			cancel(err)
			c.buffers.Release(chunkLen)
			<-inFlight
			break
		}
		left -= chunkLen
		wg.Go(func() {
			defer func() { c.buffers.Release(chunkLen); <-inFlight }()
			out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: id, PartNumber: &n,
				Body: bytes.NewReader(chunk), ContentLength: aws.Int64(chunkLen)}, unsignedPayload)
			if err != nil {
				cancel(err)
				return
			}
			mu2.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
			mu2.Unlock()
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		abort()
		if cutOff {
			return "", &userError{status: http.StatusBadRequest, msg: "The upload was cut off before its end; nothing was stored."}
		}
		return "", err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	out, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		abort()
		return "", err
	}
	return aws.ToString(out.ETag), nil
}
