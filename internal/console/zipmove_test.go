package console_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestZipAndMove(t *testing.T) {
	e, b := rootBrowser(t, "box")
	files := map[string]string{"top/a.txt": "A", "top/dir/b 100%.txt": "BB", "top/dir/deep/c#?.txt": "CCC", "other.txt": "O"}
	for k, v := range files {
		if _, err := e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("box"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}

	// A ZIP of an object and a folder chosen in top/.
	res, err := b.hc.PostForm(e.url+"/console/zip", url.Values{"csrf": {b.csrf}, "bucket": {"box"}, "prefix": {"top/"}, "key": {"top/a.txt", "top/dir/"}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), `filename=top.zip`) {
		t.Fatalf("zip: %d %v", res.StatusCode, res.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		d, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(d)
	}
	want := map[string]string{"a.txt": "A", "dir/b 100%.txt": "BB", "dir/deep/c#?.txt": "CCC"}
	if len(got) != len(want) {
		t.Fatalf("zip holds %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("zip %q = %q, want %q", k, got[k], v)
		}
	}
	// Without the form token, nothing.
	res, _ = b.hc.PostForm(e.url+"/console/zip", url.Values{"bucket": {"box"}, "key": {"top/a.txt"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("zip without a token: %d", res.StatusCode)
	}

	// Rename an object, then move a folder.
	var out struct {
		Moved  int
		Failed []struct{ Key, Message string }
	}
	if code := b.api("POST", "/console/api/move", strings.NewReader(`{"bucket":"box","from":"other.txt","to":"renamed/other 2.txt"}`), &out); code != 200 || out.Moved != 1 {
		t.Fatalf("rename: %d %+v", code, out)
	}
	if code := b.api("POST", "/console/api/move", strings.NewReader(`{"bucket":"box","from":"top/dir/","to":"archive/dir/"}`), &out); code != 200 || out.Moved != 2 {
		t.Fatalf("move folder: %d %+v", code, out)
	}
	var keys []string
	p, err := e.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("box")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if !slices.Equal(keys, []string{"archive/dir/b 100%.txt", "archive/dir/deep/c#?.txt", "renamed/other 2.txt", "top/a.txt"}) {
		t.Fatalf("after the moves: %q", keys)
	}
	obj, _ := e.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("box"), Key: aws.String("archive/dir/deep/c#?.txt")})
	d, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(d) != "CCC" {
		t.Fatalf("moved object holds %q", d)
	}
	for _, bad := range []string{`{"bucket":"box","from":"archive/","to":"archive/sub/"}`, `{"bucket":"box","from":"top/a.txt","to":"x/"}`, `{"bucket":"box","from":"top/a.txt","to":"../a"}`} {
		var e map[string]string
		if code := b.api("POST", "/console/api/move", strings.NewReader(bad), &e); code != http.StatusBadRequest {
			t.Errorf("%s: %d %v", bad, code, e)
		}
	}
}
