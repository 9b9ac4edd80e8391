package gateway_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/posix"
	"cairn/internal/s3/s3fs"
)

func TestDeleteObjectsMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	for _, k := range []string{"a", "b", "d/e", "d/f", "keep"} {
		h.put(t, "bkt", k, k)
	}
	// Quiet mode with existing and missing keys: no Deleted entries, no errors.
	out, err := h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("nope")}, {Key: aws.String("d/e")}, {Key: aws.String("x/y/z")}}}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet: %+v %v", out, err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "b,d/f,keep" {
		t.Fatalf("after quiet delete: %v", got)
	}
	// Verbose: every key is reported deleted, in order, missing ones too.
	out, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("b")}, {Key: aws.String("gone")}, {Key: aws.String("d/f")}}}})
	if err != nil || len(out.Errors) != 0 || len(out.Deleted) != 3 {
		t.Fatalf("verbose: %+v %v", out, err)
	}
	for i, k := range []string{"b", "gone", "d/f"} {
		if *out.Deleted[i].Key != k {
			t.Errorf("deleted[%d] = %s, want %s", i, *out.Deleted[i].Key, k)
		}
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "keep" {
		t.Fatalf("after verbose delete: %v", got)
	}
	// DeleteObjects on a missing bucket.
	_, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("nobkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a")}}}})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("delete objects in a missing bucket: %v", err)
	}
	// More than 1000 keys is malformed.
	var many []types.ObjectIdentifier
	for i := 0; i < 1001; i++ {
		many = append(many, types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))})
	}
	_, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: many}})
	if code(err) != "MalformedXML" {
		t.Fatalf("1001 keys: %v", err)
	}
	resp, b := h.do(t, true, http.MethodPost, "/bkt?delete", nil, "<Delete><Object>")
	errorBody(t, resp, b, 400, "MalformedXML")

	// minio-go RemoveObjects, existing and missing.
	for _, k := range []string{"m/1", "m/2", "m/3"} {
		h.put(t, "bkt", k, k)
	}
	ch := make(chan minio.ObjectInfo, 4)
	for _, k := range []string{"m/1", "m/missing", "m/3"} {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for e := range h.mc.RemoveObjects(bg, "bkt", ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("minio RemoveObjects: %s %v", e.ObjectName, e.Err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "keep,m/2" {
		t.Fatalf("after minio RemoveObjects: %v", got)
	}
}

func TestCopyMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "src")
	h.mb(t, "dst")
	srcKey := "dir/a file é+x"
	put, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), Body: strings.NewReader("copy me"),
		ContentType: aws.String("text/src"), CacheControl: aws.String("max-age=5"), Metadata: map[string]string{"orig": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	csrc := aws.String("src/" + strings.ReplaceAll(url.PathEscape(srcKey), "%2F", "/"))
	// COPY across buckets, with a key needing escapes: body, ETag, metadata and headers kept.
	cp, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: csrc})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if *cp.CopyObjectResult.ETag != *put.ETag || cp.CopyObjectResult.LastModified == nil {
		t.Fatalf("copy result %+v, source ETag %s", cp.CopyObjectResult, *put.ETag)
	}
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil || body != "copy me" || *g.ContentType != "text/src" || *g.CacheControl != "max-age=5" || g.Metadata["orig"] != "yes" || *g.ETag != *put.ETag {
		t.Fatalf("COPY: %q %+v %v", body, g, err)
	}
	// COPY ignores metadata sent with the request.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveCopy, Metadata: map[string]string{"new": "no"}, ContentType: aws.String("text/ignored")}); err != nil {
		t.Fatal(err)
	}
	_, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	if g.Metadata["new"] != "" || g.Metadata["orig"] != "yes" || *g.ContentType != "text/src" {
		t.Fatalf("COPY directive took request metadata: %v %s", g.Metadata, *g.ContentType)
	}
	// REPLACE: only the request's metadata and headers.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "yes"}, ContentType: aws.String("text/new")}); err != nil {
		t.Fatal(err)
	}
	body, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3")})
	if body != "copy me" || len(g.Metadata) != 1 || g.Metadata["new"] != "yes" || *g.ContentType != "text/new" || g.CacheControl != nil {
		t.Fatalf("REPLACE: %q %v %s %v", body, g.Metadata, *g.ContentType, g.CacheControl)
	}
	// Copy onto itself: refused without REPLACE, allowed with it.
	_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: csrc})
	if code(err) != "InvalidRequest" {
		t.Fatalf("copy onto itself: %v", err)
	}
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"orig": "replaced"}}); err != nil {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}
	body, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey)})
	if body != "copy me" || g.Metadata["orig"] != "replaced" {
		t.Fatalf("self copy: %q %v", body, g.Metadata)
	}
	// Copy-source conditions.
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for i, c := range []struct {
		in s3.CopyObjectInput
		ok bool
	}{
		{s3.CopyObjectInput{CopySourceIfMatch: put.ETag}, true},
		{s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"zz"`)}, false},
		{s3.CopyObjectInput{CopySourceIfNoneMatch: put.ETag}, false},
		{s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(`"zz"`)}, true},
		{s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(future)}, false},
		{s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(past)}, true},
		{s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(past)}, false},
		{s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(future)}, true},
	} {
		in := c.in
		key := fmt.Sprintf("cond-%d", i)
		in.Bucket, in.Key, in.CopySource = aws.String("dst"), aws.String(key), csrc
		_, err := h.s3.CopyObject(bg, &in)
		if c.ok && err != nil || !c.ok && (code(err) != "PreconditionFailed" || httpStatus(err) != 412) {
			t.Errorf("condition %d: %v", i, err)
		}
		_, herr := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String(key)})
		if (herr == nil) != c.ok {
			t.Errorf("condition %d: destination exists %v", i, herr == nil)
		}
	}
	// Bad sources.
	for _, c := range []struct{ src, code string }{
		{"src/missing", "NoSuchKey"},
		{"nobucket/x", "NoSuchBucket"},
		{"src", "InvalidArgument"},
		{"src/" + url.PathEscape(srcKey) + "?versionId=3", "InvalidArgument"},
	} {
		_, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("bad"), CopySource: aws.String(c.src)})
		if code(err) != c.code {
			t.Errorf("copy source %q: %v, want %s", c.src, err, c.code)
		}
	}
	resp, b := h.do(t, true, http.MethodPut, "/dst/bad", map[string]string{"X-Amz-Copy-Source": "src/x", "X-Amz-Metadata-Directive": "MERGE"}, "")
	errorBody(t, resp, b, 400, "InvalidArgument")
	// minio-go: copy with and without replaced metadata.
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc1"}, minio.CopySrcOptions{Bucket: "src", Object: srcKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc2", ReplaceMetadata: true, UserMetadata: map[string]string{"Via": "minio"}},
		minio.CopySrcOptions{Bucket: "src", Object: srcKey})
	if err != nil {
		t.Fatal(err)
	}
	st1, err1 := h.mc.StatObject(bg, "dst", "mc1", minio.StatObjectOptions{})
	st2, err2 := h.mc.StatObject(bg, "dst", "mc2", minio.StatObjectOptions{})
	if err1 != nil || err2 != nil || st1.UserMetadata["Orig"] != "replaced" || st2.UserMetadata["Via"] != "minio" || st2.UserMetadata["Orig"] != "" || st1.Size != 7 {
		t.Fatalf("minio copies: %v %v / %v %v", st1.UserMetadata, err1, st2.UserMetadata, err2)
	}
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc3"}, minio.CopySrcOptions{Bucket: "src", Object: srcKey, MatchETag: "zzz"})
	if code(err) != "PreconditionFailed" {
		t.Fatalf("minio copy with a failing condition: %v", err)
	}
}

func TestListingMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	keys := []string{"a b/c d", "a b/e", "plain", "q+r", "x/y", "x/é ü/1", "x/é ü/2", "zeta%20"} // in byte order
	for _, k := range keys {
		h.put(t, "bkt", k, "v")
	}
	// encoding-type=url, raw: the XML carries the encoded names, spaces as %20, slashes kept.
	v2, err := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("x/")})
	if err != nil || len(v2.Contents) != 1 || *v2.Contents[0].Key != "x/y" || len(v2.CommonPrefixes) != 1 || *v2.CommonPrefixes[0].Prefix != "x/%C3%A9%20%C3%BC/" {
		t.Fatalf("encoded v2 with delimiter: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, StartAfter: aws.String("a b/e")})
	if err != nil || *v2.StartAfter != "a%20b/e" || v2.EncodingType != types.EncodingTypeUrl {
		t.Fatalf("encoded start-after: %+v %v", v2, err)
	}
	var enc []string
	for _, o := range v2.Contents {
		enc = append(enc, *o.Key)
	}
	// Byte order: "x/y" sorts before "x/\xc3...".
	if strings.Join(enc, ",") != "plain,q%2Br,x/y,x/%C3%A9%20%C3%BC/1,x/%C3%A9%20%C3%BC/2,zeta%2520" {
		t.Fatalf("encoded keys: %v", enc)
	}
	v1, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	enc = nil
	for _, o := range v1.Contents {
		enc = append(enc, *o.Key)
	}
	for _, p := range v1.CommonPrefixes {
		enc = append(enc, *p.Prefix)
	}
	if strings.Join(enc, ",") != "plain,q%2Br,zeta%2520,a%20b/,x/" {
		t.Fatalf("encoded v1: %v", enc)
	}
	// Without encoding the names are verbatim.
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("x/é ü/")})
	if err != nil || len(v2.Contents) != 2 || *v2.Contents[0].Key != "x/é ü/1" || *v2.Prefix != "x/é ü/" {
		t.Fatalf("unencoded: %+v %v", v2, err)
	}
	// fetch-owner: absent unless asked for in v2; always in v1.
	v2, _ = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if v2.Contents[0].Owner != nil {
		t.Fatalf("v2 owner without fetch-owner: %+v", v2.Contents[0].Owner)
	}
	v2, _ = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), FetchOwner: aws.Bool(true)})
	if o := v2.Contents[0].Owner; o == nil || aws.ToString(o.ID) != "0" {
		t.Fatalf("v2 owner with fetch-owner: %+v", o)
	}
	if *v2.KeyCount != int32(len(keys)) || *v2.MaxKeys != 1000 || *v2.IsTruncated || *v2.Name != "bkt" {
		t.Fatalf("v2 counts: %d %d %v", *v2.KeyCount, *v2.MaxKeys, *v2.IsTruncated)
	}
	// v1 paging with a delimiter follows NextMarker, and sees prefixes once.
	var seen []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("v1 paging does not end")
		}
		p, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.Contents) + len(p.CommonPrefixes); n > 2 || n == 0 {
			t.Fatalf("v1 page of %d", n)
		}
		for _, o := range p.Contents {
			seen = append(seen, *o.Key)
		}
		for _, c := range p.CommonPrefixes {
			seen = append(seen, *c.Prefix)
		}
		if !*p.IsTruncated {
			if p.NextMarker != nil {
				t.Fatalf("NextMarker on the last page: %s", *p.NextMarker)
			}
			break
		}
		if p.NextMarker == nil {
			t.Fatal("truncated v1 page with a delimiter and no NextMarker")
		}
		marker = *p.NextMarker
	}
	slices.Sort(seen)
	if strings.Join(seen, ",") != "a b/,plain,q+r,x/,zeta%20" {
		t.Fatalf("v1 paged with delimiter: %v", seen)
	}
	// v2 paging with a delimiter through continuation tokens.
	seen = nil
	p2 := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for page := 0; p2.HasMorePages(); page++ {
		pg, err := p2.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			seen = append(seen, *o.Key)
		}
		for _, c := range pg.CommonPrefixes {
			seen = append(seen, *c.Prefix)
		}
		if (page > 0) != (pg.ContinuationToken != nil) || *pg.KeyCount != 1 {
			t.Fatalf("page %d: token %v, %d keys", page, pg.ContinuationToken, *pg.KeyCount)
		}
	}
	if strings.Join(seen, ",") != "a b/,plain,q+r,x/,zeta%20" {
		t.Fatalf("v2 paged with delimiter: %v", seen)
	}
	// max-keys 0, start-after past the end, a prefix matching nothing, bad parameters.
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(0)})
	if err != nil || len(v2.Contents) != 0 || *v2.KeyCount != 0 {
		t.Fatalf("max-keys 0: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), StartAfter: aws.String("zz")})
	if err != nil || len(v2.Contents) != 0 || *v2.IsTruncated {
		t.Fatalf("start-after past the end: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("nothing/")})
	if err != nil || len(v2.Contents) != 0 || len(v2.CommonPrefixes) != 0 {
		t.Fatalf("prefix matching nothing: %+v %v", v2, err)
	}
	for _, q := range []string{"list-type=2&max-keys=-1", "max-keys=abc", "list-type=2&encoding-type=base64", "list-type=2&continuation-token="} {
		resp, b := h.do(t, true, http.MethodGet, "/bkt?"+q, nil, "")
		errorBody(t, resp, b, 400, "InvalidArgument")
	}
	_, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("nobkt")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("list a missing bucket: %v", err)
	}
	// minio-go v1 and v2 listings with and without recursion.
	for _, v1 := range []bool{false, true} {
		var got []string
		for o := range h.mc.ListObjects(bg, "bkt", minio.ListObjectsOptions{UseV1: v1, Prefix: "x/"}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		slices.Sort(got)
		if strings.Join(got, ",") != "x/y,x/é ü/" {
			t.Errorf("minio (v1 %v) non-recursive: %v", v1, got)
		}
		got = nil
		for o := range h.mc.ListObjects(bg, "bkt", minio.ListObjectsOptions{UseV1: v1, Recursive: true, WithMetadata: false}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("minio (v1 %v) recursive: %v", v1, got)
		}
	}
}

// TestPaginators lists 2,500 keys with every paging scheme: each key is
// seen exactly once, in order.
func TestPaginators(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "many")
	var want []string
	for i := 0; i < 2500; i++ {
		k := fmt.Sprintf("p%d/%05d", i%3, i)
		if _, err := h.fs.PutObject(bg, posix.Root, "many", k, strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	slices.Sort(want)
	// v2 paginator.
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("v2 paginator: %d keys in %d pages", len(got), pages)
	}
	// v2 with start-after in the middle.
	got = nil
	p = s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(333), StartAfter: aws.String(want[1249])})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	if !slices.Equal(got, want[1250:]) {
		t.Fatalf("v2 from start-after: %d keys", len(got))
	}
	// v1 with markers: the last key of a page when there is no delimiter.
	got = nil
	marker := ""
	for {
		pg, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("many"), MaxKeys: aws.Int32(700), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
		if !*pg.IsTruncated {
			break
		}
		marker = *pg.Contents[len(pg.Contents)-1].Key
	}
	if !slices.Equal(got, want) {
		t.Fatalf("v1 marker paging: %d keys", len(got))
	}
	// A prefix paginated: one third.
	got = nil
	p = s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), Prefix: aws.String("p1/"), MaxKeys: aws.Int32(100)})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	var p1 []string
	for _, k := range want {
		if strings.HasPrefix(k, "p1/") {
			p1 = append(p1, k)
		}
	}
	if !slices.Equal(got, p1) {
		t.Fatalf("prefix p1/: %d keys, want %d", len(got), len(p1))
	}
	// minio-go walks it all too.
	got = nil
	for o := range h.mc.ListObjects(bg, "many", minio.ListObjectsOptions{Recursive: true, MaxKeys: 400}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		got = append(got, o.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("minio listing: %d keys", len(got))
	}
}
