package console_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func fetch(t *testing.T, u string) (int, string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location") + " " + string(b)
}

// TestConsoleAddress: --console-address serves the console on an address
// of its own (and not on the S3 one); "off" serves none.
func TestConsoleAddress(t *testing.T) {
	caddr := freeAddr(t)
	srv := startCairnArgs(t, []string{"--console-address", caddr}, "CAIRN_ROOT_USER="+rootAK, "CAIRN_ROOT_PASSWORD="+rootSK)
	if code, body := fetch(t, "http://"+caddr+"/console/signin"); code != 200 || !strings.Contains(body, "Sign in") {
		t.Fatalf("console address: %d %s", code, body)
	}
	if code, body := fetch(t, "http://"+caddr+"/"); code != http.StatusSeeOther || !strings.HasPrefix(body, "/console/ ") {
		t.Fatalf("console address root: %d %s", code, body)
	}
	if code, body := fetch(t, srv.url+"/console/signin"); code == 200 || strings.Contains(body, "Sign in") {
		t.Fatalf("the S3 address still serves the console: %d %s", code, body)
	}
	// Share links name the S3 address, not the console's.
	jar := (&env{url: "http://" + caddr}).browser(t)
	jar.signIn(rootAK, rootSK)
	jar.post("/console/buckets", map[string][]string{"bucket": {"shared"}})
	put(t, srv, "shared", "a.txt", "hello")
	var sh struct{ URL string }
	if code := jar.api("POST", "/console/api/share", strings.NewReader(`{"bucket":"shared","key":"a.txt","seconds":600}`), &sh); code != 200 || !strings.HasPrefix(sh.URL, srv.url+"/shared/a.txt?") {
		t.Fatalf("share link %q (%d), want one on %s", sh.URL, code, srv.url)
	}
	if code, body := fetch(t, sh.URL); code != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("share link: %d %s", code, body)
	}
	// With the console on another origin, objects are not sandboxed.
	if res, err := http.Get(sh.URL); err != nil || res.Header.Get("Content-Security-Policy") != "" {
		t.Fatalf("an object beside no console: %v %v", err, res.Header)
	} else {
		res.Body.Close()
	}

	off := startCairnArgs(t, []string{"--console-address", "off"}, "CAIRN_ROOT_USER="+rootAK, "CAIRN_ROOT_PASSWORD="+rootSK)
	if code, body := fetch(t, off.url+"/console/signin"); code == 200 || strings.Contains(body, "Sign in") {
		t.Fatalf("--console-address off still serves it: %d %s", code, body)
	}
}
