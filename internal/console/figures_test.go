package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
)

// TestConsoleFigures measures the console's figures of docs/benchmarks.md
// against a built cairn server: how soon the first page of a bucket of
// CONSOLE_FIGURES_OBJECTS objects (100,000) is interactive, and a 256 MiB
// upload through the console beside the aws CLI's in the same run. It is
// a measurement, not a test of behaviour (TestBrowser is that), so it runs
// only when CONSOLE_FIGURES=1:
//
//	CONSOLE_FIGURES=1 go test -run TestConsoleFigures -v -timeout 30m ./internal/console
func TestConsoleFigures(t *testing.T) {
	if os.Getenv("CONSOLE_FIGURES") == "" {
		t.Skip("a measurement: set CONSOLE_FIGURES=1")
	}
	n := 100000
	if s := os.Getenv("CONSOLE_FIGURES_OBJECTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	chrome := chromium(t)
	srv := startCairn(t, "CAIRN_ROOT_USER="+rootAK, "CAIRN_ROOT_PASSWORD="+rootSK)
	ctx := context.Background()
	if _, err := srv.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("many")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				key := fmt.Sprintf("photo-%06d.jpg", i)
				if _, err := srv.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("many"), Key: &key, Body: strings.NewReader("x")}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d objects put in %v", n, time.Since(start).Round(time.Second))

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	b := newTab(t, actx)
	b.signIn(srv.url, rootAK, rootSK)

	// First page: from the navigation's start to the document being
	// interactive with the rows in it (the page is rendered by the server,
	// so its script has nothing more to fetch).
	var times []float64
	for range 7 {
		b.run(chromedp.Navigate(srv.url+"/console/browse?bucket=many"), chromedp.WaitVisible(chromedp.CSS(`#load-more`)))
		ms := value(b, chromedp.Evaluate[float64](`(function () {
			const e = performance.getEntriesByType("navigation")[0];
			return e.domInteractive - e.startTime;
		})()`))
		rows := value(b, chromedp.Evaluate[int](`document.querySelectorAll("#objects tbody tr").length`))
		if rows != 100 {
			t.Fatalf("%d rows on the first page", rows)
		}
		times = append(times, ms)
	}
	slices.Sort(times)
	t.Logf("first page of %d objects interactive: median %.0f ms (min %.0f, max %.0f, 7 loads)", n, times[3], times[0], times[6])
	b.run(chromedp.Click(chromedp.CSS(`#load-more`)))
	b.waitJS(`document.querySelectorAll("#objects tbody tr").length === 200`)

	// 256 MiB through the console (dropped on the page) and with the aws
	// CLI, alternately, three times each.
	const size = 256 << 20
	file := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(file, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	var con, cli []float64
	for i := range 3 {
		b.run(chromedp.Navigate(srv.url + "/console/browse?bucket=many&filter=zzz"))
		ms := value(b, chromedp.Evaluate[float64](fmt.Sprintf(`new Promise(function (done) {
			const f = new File([new Uint8Array(%d)], "console-%d.bin");
			const t0 = performance.now();
			const dt = new DataTransfer();
			dt.items.add(f);
			document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
			const poll = setInterval(function () {
				if (document.querySelector("#uploads li.done")) { clearInterval(poll); done(performance.now() - t0); }
				if (document.querySelector("#uploads li.failed")) { clearInterval(poll); done(-1); }
			}, 5);
		})`, size, i), chromedp.EvalAwaitPromise))
		if ms < 0 {
			t.Fatal("the console upload failed")
		}
		con = append(con, ms)
		cmd := exec.Command("aws", "--endpoint-url", srv.url, "s3", "cp", file, fmt.Sprintf("s3://many/cli-%d.bin", i))
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+rootAK, "AWS_SECRET_ACCESS_KEY="+rootSK, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws s3 cp: %v %s", err, out)
		}
		cli = append(cli, float64(time.Since(t0).Milliseconds()))
	}
	slices.Sort(con)
	slices.Sort(cli)
	mib := float64(size >> 20)
	t.Logf("256 MiB upload: console median %.0f ms (%.0f MiB/s), aws CLI median %.0f ms (%.0f MiB/s): console/CLI throughput %.2f×",
		con[1], mib/(con[1]/1000), cli[1], mib/(cli[1]/1000), cli[1]/con[1])
}
