package console_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	if code, body := b.get("/console/buckets"); code != http.StatusOK || !strings.Contains(body, `id="accessKey"`) {
		t.Fatalf("signed out, /console/buckets: %d", code)
	}
	if code, body := b.get("/console"); code != http.StatusOK || !strings.Contains(body, `id="accessKey"`) {
		t.Fatalf("signed out, /console: %d", code)
	}
	code, body := b.trySignIn(rootAK, "wrong-secret", "/console/buckets")
	if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong access key or secret.") || strings.Contains(body, "Sign out") {
		t.Fatalf("wrong secret: %d %s", code, body)
	}
	if code, body := b.trySignIn("nosuchkey", "whatever12", ""); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong access key or secret.") {
		t.Fatalf("unknown key: %d (the same answer as a wrong secret, so it tells nothing) %s", code, body)
	}
	// A forged form token.
	code, _ = b.post("/console/signin", url.Values{"csrf": {"forged"}, "accessKey": {rootAK}, "secretKey": {rootSK}})
	if code != http.StatusForbidden {
		t.Fatalf("forged sign-in token: %d", code)
	}
	// The next page is kept, but only inside the console.
	code, body = b.trySignIn(rootAK, rootSK, "https://evil.example/steal")
	if code != http.StatusOK || !strings.Contains(body, "Create a bucket") {
		t.Fatalf("sign-in with a foreign next: %d %s", code, body)
	}
	if _, body := b.get("/console/"); !strings.Contains(body, "Create a bucket") {
		t.Fatal("signed in, /console/ is not the bucket list")
	}
	u, _ := url.Parse(e.url + "/console/")
	var found bool
	for _, c := range b.hc.Jar.Cookies(u) {
		found = found || c.Name == "cairn_console"
	}
	if !found {
		t.Fatal("no session cookie")
	}
	// Sign out: the session is gone on the server, not only the cookie.
	old := b.hc.Jar.Cookies(u)
	if code, body := b.post("/console/signout", url.Values{}); code != http.StatusOK || !strings.Contains(body, "Sign in") {
		t.Fatalf("sign-out: %d %s", code, body)
	}
	b2 := e.browser(t)
	b2.hc.Jar.SetCookies(u, old)
	if code := b2.api("GET", "/console/api/list?bucket=x", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("the signed-out session's cookie still works: %d", code)
	}
}

func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	_, page := b.get("/console/signin")
	tok := preRE.FindStringSubmatch(page)[1]
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Jar: b.hc.Jar}
	req, _ := http.NewRequest("POST", e.url+"/console/signin", strings.NewReader(url.Values{"csrf": {tok}, "accessKey": {rootAK}, "secretKey": {rootSK}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var sc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "cairn_console" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/console/" || len(sc.Value) < 40 {
		t.Fatalf("session cookie: %+v", sc)
	}
}

func TestSessionLifetimes(t *testing.T) {
	e, b := rootBrowser(t)
	for range 3 { // used every 50 minutes, it stays alive past the idle timeout…
		e.clock.add(50 * time.Minute)
		if code := b.api("GET", "/console/api/list?bucket=none", nil, nil); code == http.StatusUnauthorized {
			t.Fatal("a session in use ended")
		}
	}
	e.clock.add(61 * time.Minute) // …and ends when left idle for longer
	var out map[string]string
	if code := b.api("GET", "/console/api/list?bucket=none", nil, &out); code != http.StatusUnauthorized || !strings.Contains(out["error"], "Sign in again") {
		t.Fatalf("idle session: %d %v", code, out)
	}
	// A page sends the user to sign in and back to the same page.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Jar: b.hc.Jar}
	res, err := hc.Get(e.url + "/console/browse?bucket=a&prefix=b%2F")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/console/signin?next="+url.QueryEscape("/console/browse?bucket=a&prefix=b%2F") {
		t.Fatalf("expired page: %d %q", res.StatusCode, loc)
	}
	// The absolute lifetime holds however busy the session is.
	b.signIn(rootAK, rootSK)
	for range 12 {
		e.clock.add(59 * time.Minute)
		b.api("GET", "/console/api/list?bucket=none", nil, nil)
	}
	e.clock.add(20 * time.Minute)
	if code := b.api("GET", "/console/api/list?bucket=none", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("a session older than its lifetime: %d", code)
	}
}

func TestCSRF(t *testing.T) {
	e, b := rootBrowser(t)
	good := b.csrf
	for _, tc := range []struct {
		name, token, origin, site string
	}{
		{"no token", "", "", ""},
		{"forged token", "AAAA" + good[4:], "", ""},
		{"cross-origin POST", good, "https://evil.example", ""},
		{"cross-site fetch", good, "", "cross-site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url+"/console/buckets", strings.NewReader(url.Values{"csrf": {tc.token}, "bucket": {"forged"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			res, err := b.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("%d", res.StatusCode)
			}
			if _, err := e.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("forged")}); err == nil {
				t.Fatal("the bucket was created")
			}
		})
	}
	req, _ := http.NewRequest("PUT", e.url+"/console/api/upload?bucket=forged&key=x", strings.NewReader("x"))
	res, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("upload without the token: %d", res.StatusCode)
	}
	if code, body := b.post("/console/buckets", url.Values{"bucket": {"real"}}); code != http.StatusOK || !strings.Contains(body, "real") {
		t.Fatalf("a good form: %d %s", code, body)
	}
}

// TestLockoutShared: failed sign-ins count toward the key's S3 lockout,
// and a locked-out key can sign in no more than it can sign requests.
func TestLockoutShared(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for range 3 {
		b.trySignIn(readerAK, "wrong-secret", "")
	}
	code, body := b.trySignIn(readerAK, readerSK, "")
	if code != http.StatusForbidden || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("locked-out key with its right secret: %d %s", code, body)
	}
	if _, _, err := e.ids.Lookup(bg, readerAK); err == nil {
		t.Fatal("the gateway does not hold the key locked out")
	}
}

func TestObjectsRoundTrip(t *testing.T) {
	e, b := rootBrowser(t)
	if code, body := b.post("/console/buckets", url.Values{"bucket": {"photos"}, "versioning": {"on"}}); code != http.StatusOK || !strings.Contains(body, "Drop files here") {
		t.Fatalf("create bucket: %d %s", code, body)
	}
	names := []string{"plain.txt", "with space.txt", "ünïcødé 日本.txt", "100%.txt", "hash#tag.txt", "what?.txt", "a+b&c=d.txt"}
	data := map[string][]byte{}
	for i, n := range names {
		d := bytes.Repeat([]byte{byte('a' + i)}, 1000+i)
		data["dir/"+n] = d
		upload(t, b, "photos", "dir/"+n, d)
	}
	large := make([]byte, 40<<20+123) // a multipart upload
	rand.Read(large)
	upload(t, b, "photos", "dir/sub/large.bin", large)
	data["dir/sub/large.bin"] = large

	var page struct {
		Entries []struct {
			Name, Key, Href string
			Folder          bool
			Size            int64
		}
		Next string
	}
	if code := b.api("GET", "/console/api/list?bucket=photos&prefix=dir%2F", nil, &page); code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	if len(page.Entries) != len(names)+1 || !page.Entries[0].Folder || page.Entries[0].Name != "sub/" {
		t.Fatalf("listing: %+v", page.Entries)
	}
	seen := map[string]bool{}
	for _, en := range page.Entries[1:] {
		seen[en.Name] = true
		got := download(t, b, en.Href)
		if !bytes.Equal(got, data[en.Key]) {
			t.Errorf("%q: downloaded %d bytes, want %d", en.Key, len(got), len(data[en.Key]))
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%q not listed", n)
		}
	}
	if got := download(t, b, "/console/download?"+url.Values{"bucket": {"photos"}, "key": {"dir/sub/large.bin"}}.Encode()); !bytes.Equal(got, large) {
		t.Fatalf("large download: %d bytes", len(got))
	}
	// The page shows the names as they are.
	if code, body := b.get("/console/browse?bucket=photos&prefix=dir%2F"); code != http.StatusOK || !strings.Contains(body, "ünïcødé 日本.txt") || !strings.Contains(body, "hash#tag.txt") {
		t.Fatalf("browse page: %d", code)
	}

	// Details, tags and versions.
	if _, err := e.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("photos"), Key: aws.String("dir/what?.txt"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}}); err != nil {
		t.Fatal(err)
	}
	upload(t, b, "photos", "dir/what?.txt", []byte("second version"))
	var d struct {
		Key, ETag, Versioning string
		Owner, Mode, ACL      string
		Size                  int64
		Tags                  map[string]string
		Versions              []struct {
			ID     string
			Latest bool
		}
	}
	if code := b.api("GET", "/console/api/object?"+url.Values{"bucket": {"photos"}, "key": {"dir/what?.txt"}}.Encode(), nil, &d); code != http.StatusOK {
		t.Fatalf("details: %d", code)
	}
	if d.Owner != "uid 0 (root), gid 0" || d.Mode != "rw-r--r-- (0644)" || d.ACL != "" {
		t.Fatalf("the file behind it: owner %q mode %q acl %q", d.Owner, d.Mode, d.ACL)
	}
	if d.Size != 14 || d.Versioning != "Enabled" || len(d.Versions) != 2 || !d.Versions[0].Latest {
		t.Fatalf("details: %+v", d)
	}
	old := d.Versions[1].ID
	if got := download(t, b, "/console/download?"+url.Values{"bucket": {"photos"}, "key": {"dir/what?.txt"}, "versionId": {old}}.Encode()); !bytes.Equal(got, data["dir/what?.txt"]) {
		t.Fatalf("old version: %q", got)
	}

	// Restore the old version: it becomes the latest, and every version stays.
	var rs struct{ VersionID string }
	if code := b.api("POST", "/console/api/restore", strings.NewReader(`{"bucket":"photos","key":"dir/what?.txt","versionId":"`+old+`"}`), &rs); code != 200 || rs.VersionID == "" {
		t.Fatalf("restore: %d %+v", code, rs)
	}
	if got := download(t, b, "/console/download?"+url.Values{"bucket": {"photos"}, "key": {"dir/what?.txt"}}.Encode()); !bytes.Equal(got, data["dir/what?.txt"]) {
		t.Fatalf("after restore: %q", got)
	}
	b.api("GET", "/console/api/object?"+url.Values{"bucket": {"photos"}, "key": {"dir/what?.txt"}}.Encode(), nil, &d)
	if len(d.Versions) != 3 {
		t.Fatalf("after restore: %d versions", len(d.Versions))
	}

	// A share link works without any credentials, until it expires.
	var sh struct{ URL string }
	if code := b.api("POST", "/console/api/share", strings.NewReader(`{"bucket":"photos","key":"dir/hash#tag.txt","seconds":3600}`), &sh); code != http.StatusOK {
		t.Fatalf("share: %d", code)
	}
	res, err := http.Get(sh.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, data["dir/hash#tag.txt"]) {
		t.Fatalf("share link: %d %q", res.StatusCode, got)
	}
	var bad map[string]string
	if code := b.api("POST", "/console/api/share", strings.NewReader(`{"bucket":"photos","key":"x","seconds":9999999}`), &bad); code != http.StatusBadRequest {
		t.Fatalf("an 8-week link: %d %v", code, bad)
	}

	// Delete a version, then several objects and a folder at once.
	var del struct {
		Deleted int
		Failed  []struct{ Key, Message string }
	}
	if code := b.api("POST", "/console/api/delete", strings.NewReader(`{"bucket":"photos","key":"dir/what?.txt","versions":["`+old+`"]}`), &del); code != http.StatusOK || del.Deleted != 1 {
		t.Fatalf("delete version: %d %+v", code, del)
	}
	if code := b.api("POST", "/console/api/delete", strings.NewReader(`{"bucket":"photos","keys":["dir/100%.txt","dir/ünïcødé 日本.txt","dir/sub/"]}`), &del); code != http.StatusOK || del.Deleted != 3 || len(del.Failed) != 0 {
		t.Fatalf("delete: %d %+v", code, del)
	}
	b.api("GET", "/console/api/list?bucket=photos&prefix=dir%2F", nil, &page)
	if len(page.Entries) != len(names)-2 {
		t.Fatalf("after delete: %+v", page.Entries)
	}
}

func TestListingPages(t *testing.T) {
	e, b := rootBrowser(t, "many")
	for i := range 120 {
		k := "k" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		if _, err := e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("many"), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	code, body := b.get("/console/browse?bucket=many&size=50")
	if code != http.StatusOK || strings.Count(body, `class="link name"`) != 50 || !strings.Contains(body, `data-next="`) {
		t.Fatalf("first page: %d, %d rows", code, strings.Count(body, `class="link name"`))
	}
	next := regexpNext.FindStringSubmatch(body)[1]
	total := 50
	for next != "" {
		var page struct {
			Entries []struct{ Key string }
			Next    string
		}
		b.api("GET", "/console/api/list?"+url.Values{"bucket": {"many"}, "size": {"50"}, "token": {htmlUnescape(next)}}.Encode(), nil, &page)
		total += len(page.Entries)
		next = page.Next
	}
	if total != 120 {
		t.Fatalf("pages held %d objects, want 120", total)
	}
	var page struct{ Entries []struct{ Key string } }
	b.api("GET", "/console/api/list?bucket=many&filter=kb", nil, &page)
	if len(page.Entries) != 26 {
		t.Fatalf("filter kb: %d entries", len(page.Entries))
	}
}

func TestReadOnlyUser(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("doc.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn(readerAK, readerSK)
	if got := download(t, b, "/console/download?bucket=shared&key=doc.txt"); string(got) != "hello" {
		t.Fatalf("reader's download: %q", got)
	}
	var out map[string]string
	req, _ := http.NewRequest("PUT", e.url+"/console/api/upload?bucket=shared&key=new.txt", strings.NewReader("nope"))
	req.Header.Set("X-Csrf-Token", b.csrf)
	res, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, res, &out)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(out["error"], "AccessDenied") {
		t.Fatalf("reader's upload: %d %v", res.StatusCode, out)
	}
	var del struct {
		Failed []struct{ Key, Message string }
	}
	if code := b.api("POST", "/console/api/delete", strings.NewReader(`{"bucket":"shared","keys":["doc.txt"]}`), &del); code != http.StatusOK ||
		len(del.Failed) != 1 || !strings.Contains(del.Failed[0].Message, "AccessDenied") {
		t.Fatalf("reader's delete: %d %+v", code, del)
	}
	if _, err := e.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String("doc.txt")}); err != nil {
		t.Fatalf("the reader deleted doc.txt: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	e, b := rootBrowser(t, "names")
	for _, key := range []string{"../etc/passwd", "a/../b", "./x", "a/./b"} {
		var out map[string]string
		req, _ := http.NewRequest("PUT", e.url+"/console/api/upload?"+url.Values{"bucket": {"names"}, "key": {key}}.Encode(), strings.NewReader("x"))
		req.Header.Set("X-Csrf-Token", b.csrf)
		res, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		decodeJSON(t, res, &out)
		if res.StatusCode != http.StatusBadRequest || out["error"] == "" {
			t.Errorf("upload of %q: %d %v", key, res.StatusCode, out)
		}
		if code, body := b.get("/console/download?" + url.Values{"bucket": {"names"}, "key": {key}}.Encode()); code != http.StatusBadRequest || !strings.Contains(body, "Refused") {
			t.Errorf("download of %q: %d", key, code)
		}
	}
	// An error from the gateway is a page that says what went wrong.
	if code, body := b.get("/console/browse?bucket=nosuchbucket"); code != http.StatusNotFound || !strings.Contains(body, "The bucket does not exist") {
		t.Fatalf("missing bucket: %d %s", code, body)
	}
}

// TestUploadCut: a browser that goes away mid-upload leaves no object
// and no unfinished multipart upload behind.
func TestUploadCut(t *testing.T) {
	e, b := rootBrowser(t, "cut")
	size := int64(80 << 20)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 40<<20))
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	req, _ := http.NewRequest("PUT", e.url+"/console/api/upload?bucket=cut&key=big", pr)
	req.ContentLength = size
	req.Header.Set("X-Csrf-Token", b.csrf)
	if res, err := b.hc.Do(req); err == nil {
		res.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ups, err := e.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("cut")})
		if err != nil {
			t.Fatal(err)
		}
		if len(ups.Uploads) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d multipart uploads left", len(ups.Uploads))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("cut"), Key: aws.String("big")}); err == nil {
		t.Fatal("a cut upload left an object")
	}
}

func TestNotFound(t *testing.T) {
	_, b := rootBrowser(t)
	for _, p := range []string{"/console/nosuchpage", "/console/api/nothing", "/console/static/missing.js"} {
		code, body := b.get(p)
		if code != http.StatusNotFound {
			t.Errorf("%s: %d", p, code)
		}
		if !strings.HasPrefix(p, "/console/static/") && !strings.Contains(body, "There is no such page") {
			t.Errorf("%s: %q", p, body)
		}
	}
}

func TestBucketUsage(t *testing.T) {
	e, b := rootBrowser(t, "sized")
	var want int64
	for i := range 1203 { // more than one listing page
		body := strings.Repeat("x", i%7)
		want += int64(len(body))
		if _, err := e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("sized"), Key: aws.String(fmt.Sprintf("d%d/k%04d", i%3, i)), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var u struct{ Bytes, Objects int64 }
	if code := b.api("GET", "/console/api/usage?bucket=sized", nil, &u); code != 200 || u.Objects != 1203 || u.Bytes != want {
		t.Fatalf("usage: %d %+v, want 1203 objects, %d bytes", code, u, want)
	}
	if _, body := b.get("/console/buckets"); !strings.Contains(body, `data-bucket="sized"`) {
		t.Fatal("the bucket list has no row to fill in")
	}
	// A user who may not list the bucket gets its refusal, not a count.
	r := e.browser(t)
	r.signIn(readerAK, readerSK)
	var out map[string]string
	if code := r.api("GET", "/console/api/usage?bucket=sized", nil, &out); code != http.StatusForbidden {
		t.Fatalf("reader's usage: %d %v", code, out)
	}
}

func TestDeleteBucket(t *testing.T) {
	e, b := rootBrowser(t, "full")
	upload(t, b, "full", "x", []byte("x"))
	if code, body := b.post("/console/buckets/delete", url.Values{"bucket": {"full"}}); code != http.StatusConflict || !strings.Contains(body, "The bucket is not empty") {
		t.Fatalf("delete a full bucket: %d %s", code, body)
	}
	b.api("POST", "/console/api/delete", strings.NewReader(`{"bucket":"full","keys":["x"]}`), nil)
	if code, body := b.post("/console/buckets/delete", url.Values{"bucket": {"full"}}); code != 200 || !strings.Contains(body, "Bucket full deleted.") {
		t.Fatalf("delete an empty bucket: %d %s", code, body)
	}
	if _, err := e.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("full")}); err == nil {
		t.Fatal("the bucket is still there")
	}
	if code, body := b.post("/console/buckets", url.Values{"bucket": {"Bad_Name"}}); code != http.StatusBadRequest || !strings.Contains(body, "not a valid bucket name") {
		t.Fatalf("a bad bucket name: %d %s", code, body)
	}
}
