package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// server runs a built `cairn server` as the README says.
type server struct {
	url string
	s3  *s3.Client
	dir string
}

func startCairn(t *testing.T, env ...string) *server {
	t.Helper()
	return startCairnArgs(t, nil, env...)
}

// startCairnArgs is startCairn with more arguments to `cairn server`.
func startCairnArgs(t *testing.T, args []string, env ...string) *server {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	bin := filepath.Join(t.TempDir(), "cairn")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "cairn")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"server", filepath.Join(dir, "data"), "--address", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	s := &server{url: "http://" + addr, dir: dir}
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := http.Get(s.url + "/health/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn server did not start:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.s3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(rootAK, rootSK, "")})
	return s
}

// page is one browser tab with its JavaScript errors recorded.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string
	// allowed are network failures a step expects (a refused sign-in,
	// a refused upload): substrings of the log entry's URL.
	allowed []string
}

func newTab(t *testing.T, parent context.Context) *tab {
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		t.Fatal(err)
	}
	chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.fail(fmt.Sprintf("exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				b.fail("console.error: " + strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError && !b.expected(ev.Entry.URL) {
				b.fail(fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *page.EventJavascriptDialogOpening:
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *tab) fail(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, msg)
}

func (b *tab) expected(url string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.allowed {
		if strings.Contains(url, a) {
			return true
		}
	}
	return false
}

func (b *tab) allow(urlPart string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, urlPart)
}

// run runs steps with a time limit and fails the test on an error or on
// any JavaScript error so far.
func (b *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	value(b, chromedp.Steps(steps...))
}

// value runs one action that has a value and returns it, as run does.
func value[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	b.check()
	return v
}

func (b *tab) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Fatalf("JavaScript errors: %s", strings.Join(b.errors, "\n"))
	}
}

// shot saves a screenshot of the whole page as name.png in dir.
func (b *tab) shot(dir, name string) {
	b.t.Helper()
	png := value(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return value(b, chromedp.Text(chromedp.CSS(sel)))
}

// waitJS waits until the expression is true.
func (b *tab) waitJS(expr string) {
	b.t.Helper()
	// Polled from here, not in the page: a navigation destroys the page's
	// context, and the expression is then asked of the next page.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			b.check()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("still not %s (%v)", expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshots is where the test leaves its screenshots: $CONSOLE_SCREENSHOTS
// when set (to look at them), else the test's temporary directory.
func screenshots(t *testing.T) string {
	if d := os.Getenv("CONSOLE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func (b *tab) signIn(base, ak, sk string) {
	b.t.Helper()
	b.signInUntil(base, ak, sk, "form.who")
}

// signInUntil fills and sends the sign-in form, then waits for sel.
func (b *tab) signInUntil(base, ak, sk, sel string) {
	b.t.Helper()
	b.run(chromedp.Navigate(base+"/console/signin"),
		chromedp.WaitVisible(chromedp.CSS("#accessKey")),
		chromedp.SendKeys(chromedp.CSS("#accessKey"), ak),
		chromedp.SendKeys(chromedp.CSS("#secretKey"), sk),
		chromedp.Submit(chromedp.CSS("#secretKey")),
		chromedp.WaitVisible(chromedp.CSS(sel)))
}

func TestBrowser(t *testing.T) {
	chrome := chromium(t)
	srv := startCairn(t, "CAIRN_ROOT_USER="+rootAK, "CAIRN_ROOT_PASSWORD="+rootSK)
	shots := screenshots(t)
	downloads := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	b := newTab(t, actx)

	// Wrong credentials: a clear message and nothing more.
	b.allow("/console/signin")
	b.signInUntil(srv.url, rootAK, "not-the-secret", "p.error")
	if msg := b.text("p.error"); msg != "Wrong access key or secret." {
		t.Fatalf("wrong secret: %q", msg)
	}
	b.shot(shots, "signin")
	b.signIn(srv.url, rootAK, rootSK)

	// Create a bucket; the browser lands in it.
	b.run(chromedp.SendKeys(chromedp.CSS("#bucket"), "photos"),
		chromedp.Click(chromedp.CSS(`form.create button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#drop")))

	// Drop a 20 MiB file on the page: the progress bar runs to done.
	const size = 20 << 20
	value(b, chromedp.Evaluate[bool](fmt.Sprintf(`(function () {
		const a = new Uint8Array(%d);
		for (let i = 0; i < a.length; i++) a[i] = (i * 31 + (i >> 12)) & 255;
		const dt = new DataTransfer();
		dt.items.add(new File([a], "big photo é#1.bin", { type: "application/octet-stream" }));
		window.__progress = [];
		const bar = () => document.querySelector("#uploads progress");
		const obs = new MutationObserver(() => { const p = bar(); if (p) window.__progress.push(p.value); });
		obs.observe(document.getElementById("uploads"), { subtree: true, attributes: true, childList: true });
		document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
		return true;
	})()`, size)))
	b.waitJS(`document.querySelector("#uploads li.done") !== null`)
	if !value(b, chromedp.Evaluate[bool](`window.__progress.length > 0`)) {
		t.Fatal("no progress was shown")
	}
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*31 + i>>12)
	}
	got := getObject(t, srv, "photos", "big photo é#1.bin")
	if !bytes.Equal(got, want) {
		t.Fatalf("the dropped file arrived as %d bytes that differ", len(got))
	}
	if v := b.text("#uploads li.done .up-pct"); v != "done" {
		t.Fatalf("upload row says %q", v)
	}

	// Folders: an object below docs/ makes a folder to open and leave.
	put(t, srv, "photos", "docs/2026/readme.txt", "read me")
	put(t, srv, "photos", "docs/notes 100%.txt", "notes")
	b.run(chromedp.Navigate(srv.url+"/console/browse?bucket=photos"), chromedp.WaitVisible(chromedp.CSS(`a.folder`)),
		chromedp.Click(chromedp.CSS(`a.folder`)))
	b.waitJS(`location.search.includes("prefix=docs") && document.readyState === "complete"`)
	if crumbs := b.text("nav.crumbs"); !strings.Contains(crumbs, "photos") || !strings.Contains(crumbs, "docs") {
		t.Fatalf("breadcrumb: %q", crumbs)
	}
	b.shot(shots, "folder")
	// Filter by name.
	b.run(chromedp.SendKeys(chromedp.CSS("#filter"), "notes"), chromedp.Submit(chromedp.CSS("#filter")))
	// (The page before the filter has the same elements: wait for the new one.)
	b.waitJS(`location.search.includes("filter=notes") && document.readyState === "complete" && document.querySelector("button.name") !== null`)
	rows := value(b, chromedp.Evaluate[int](`document.querySelectorAll("#objects tbody tr").length`))
	if rows != 1 || b.text("button.name") != "notes 100%.txt" {
		t.Fatalf("filter: %d rows", rows)
	}

	// Download through the browser and compare the bytes.
	b.run(chromedp.Navigate(srv.url+"/console/browse?bucket=photos"), chromedp.WaitVisible(chromedp.CSS(`button.name`)))
	yes := true
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes}); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	chromedp.ListenBrowser(b.ctx, func(ev any) {
		if e, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && e.State == cdpbrowser.DownloadProgressStateCompleted {
			select {
			case done <- e.GUID:
			default:
			}
		}
	})
	b.run(chromedp.Click(chromedp.CSS(`#objects tbody tr td a[download]`)))
	select {
	case guid := <-done:
		data, err := os.ReadFile(filepath.Join(downloads, guid))
		if err != nil || !bytes.Equal(data, want) {
			t.Fatalf("downloaded %d bytes (%v), want the 20 MiB file", len(data), err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the download did not finish")
	}
	b.shot(shots, "browse")

	// Details and a share link that curl can fetch.
	b.run(chromedp.Click(chromedp.CSS(`button.name`)), chromedp.WaitVisible(chromedp.CSS(`#details`)),
		chromedp.Click(chromedp.CSS(`#details form.share button`)), chromedp.WaitVisible(chromedp.CSS(`#share-url`)))
	b.shot(shots, "details")
	link := value(b, chromedp.Value(chromedp.CSS(`#share-url`)))
	out, err := exec.Command("curl", "-sf", link).Output()
	if err != nil || !bytes.Equal(out, want) {
		t.Fatalf("share link with curl: %v, %d bytes", err, len(out))
	}
	// Objects served on the console's origin are sandboxed.
	if hdr, _ := exec.Command("curl", "-sf", "-D", "-", "-o", "/dev/null", link).Output(); !strings.Contains(strings.ToLower(string(hdr)), "content-security-policy: sandbox") {
		t.Fatalf("an object on the console's origin is not sandboxed:\n%s", hdr)
	}

	// Delete it (the page asks first; the test says yes).
	b.run(chromedp.Click(chromedp.CSS(`#details-close`)),
		chromedp.Click(chromedp.CSS(`#objects tbody tr:not([data-folder]) input.pick`)),
		chromedp.Click(chromedp.CSS(`#delete-selected`)))
	b.waitJS(`document.querySelectorAll("#objects tbody tr:not([data-folder])").length === 0`)
	if _, err := srv.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("big photo é#1.bin")}); err == nil {
		t.Fatal("the object is still there")
	}

	// A bucket policy preset, then anonymous access with curl.
	anon := func() string {
		out, _ := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", srv.url+"/photos/docs/notes%20100%25.txt").Output()
		return string(out)
	}
	if code := anon(); code != "403" {
		t.Fatalf("anonymous GET of a private bucket: %s", code)
	}
	b.run(chromedp.Navigate(srv.url+"/console/settings?bucket=photos&tab=access"), chromedp.WaitVisible(chromedp.CSS(`#save`)))
	// A custom policy is checked as it is typed: a broken one cannot be saved.
	b.run(chromedp.Click(chromedp.CSS(`input[value="custom"]`)), chromedp.SendKeys(chromedp.CSS("#text"), `{"Version": `))
	if hint := b.text("#text-check"); !strings.Contains(hint, "Not valid yet") || !value(b, chromedp.Evaluate[bool](`document.getElementById("save").disabled`)) {
		t.Fatalf("a broken policy: hint %q", hint)
	}
	b.run(chromedp.Click(chromedp.CSS(`input[value="download"]`)), chromedp.Click(chromedp.CSS(`#save`)),
		chromedp.WaitVisible(chromedp.CSS(`p.status`)))
	if code := anon(); code != "200" {
		t.Fatalf("anonymous GET after the public-read preset: %s", code)
	}
	b.shot(shots, "settings")

	// The narrow width a phone has.
	b.run(chromedp.EmulateViewport(390, 844))
	b.run(chromedp.Navigate(srv.url+"/console/browse?bucket=photos&prefix=docs%2F"), chromedp.WaitVisible(chromedp.CSS(`#objects`)))
	b.shot(shots, "browse-390")
	b.run(chromedp.EmulateViewport(1280, 900))
	b.run(chromedp.Navigate(srv.url+"/console/buckets"), chromedp.WaitVisible(chromedp.CSS(`#buckets`)))
	b.waitJS(`document.querySelector("#buckets tr[data-bucket=photos] .usage-objects").textContent === "2"`)
	b.shot(shots, "buckets")

	// A user with the readonly policy, made on the Identity page, sees
	// uploads refused in the page.
	b.run(chromedp.Navigate(srv.url+"/console/iam"), chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS("#name"), readerAK), chromedp.SendKeys(chromedp.CSS("#secret"), readerSK),
		chromedp.SetValue(chromedp.CSS("#policy"), "readonly"), chromedp.Submit(chromedp.CSS("#name")))
	b.waitJS(`document.querySelector("p.status") !== null && document.querySelector("p.status").textContent.includes("created")`)
	b.run(chromedp.Navigate(srv.url+"/console/iam"), chromedp.WaitVisible(chromedp.CSS(`#users`)))
	if users := b.text("#users"); !strings.Contains(users, readerAK) || !strings.Contains(users, "readonly") {
		t.Fatalf("the users tab: %q", users)
	}
	b.shot(shots, "identity")
	b.run(chromedp.Navigate(srv.url+"/console/iam?tab=policies"), chromedp.WaitVisible(chromedp.CSS(`#policies`)))
	b.shot(shots, "policies")

	// The metrics dashboard fills in as it reads the counters.
	b.run(chromedp.Navigate(srv.url + "/console/metrics?every=1000"))
	b.waitJS(`Number(document.getElementById("dashboard").dataset.samples || 0) >= 3`)
	if rate := b.text("#m-rate"); rate == "–" || rate == "" {
		t.Fatalf("requests per second: %q", rate)
	}
	if vol := b.text("#volume"); !strings.Contains(vol, "data") || !strings.Contains(vol, "Buckets") {
		t.Fatalf("volume panel: %q", vol)
	}
	if sessions := b.text("#sessions"); !strings.Contains(sessions, "server") {
		t.Fatalf("sessions: %q", sessions)
	}
	b.shot(shots, "metrics")
	r := newTab(t, actx)
	r.signIn(srv.url, readerAK, readerSK)
	r.allow("/console/api/upload")
	r.run(chromedp.Navigate(srv.url+"/console/browse?bucket=photos"), chromedp.WaitVisible(chromedp.CSS(`#files`)))
	value(r, chromedp.Evaluate[bool](`(function () {
			const dt = new DataTransfer();
			dt.items.add(new File(["nope"], "refused.txt", { type: "text/plain" }));
			document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
			return true;
		})()`))
	r.waitJS(`document.querySelector("#uploads li.failed") !== null`)
	if msg := r.text("#status"); !strings.Contains(msg, "AccessDenied") {
		t.Fatalf("the reader's refused upload says %q", msg)
	}
	r.shot(shots, "refused")
	t.Logf("screenshots in %s", shots)
}

func put(t *testing.T, s *server, bucket, key, body string) {
	t.Helper()
	if _, err := s.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func getObject(t *testing.T, s *server, bucket, key string) []byte {
	t.Helper()
	out, err := s.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(out.Body)
	return b.Bytes()
}
