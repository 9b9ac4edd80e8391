package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/s3/sigv4"
)

type benchS3Options struct {
	endpoint    string
	accessKey   string
	secretKey   string
	region      string
	bucket      string
	size        sizeValue
	concurrency int
	count       int
	duration    time.Duration
	phases      string
	delimiter   string
	prefix      string
	listAll     bool
	versions    bool
	xmlParser   string
	keep        bool
	jsonOut     bool
}

type phaseResult struct {
	Phase     string  `json:"phase"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_s"`
	MiBPerSec float64 `json:"mib_per_s"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	FirstErr  string  `json:"first_error,omitempty"`
}

func newBenchS3Cmd() *cobra.Command {
	o := benchS3Options{size: 4 << 10}
	cmd := &cobra.Command{
		Use:   "s3 --endpoint URL",
		Short: "S3 load generator: PUT, GET, STAT, LIST and DELETE phases against any endpoint",
		Long: `Runs phases of S3 requests against an endpoint (cairn or any other S3
service) and prints ops/s, MiB/s, p50/p99 latency and errors per phase.
PUT writes --count objects (or as many as fit in --duration) of --size
bytes under --prefix with --concurrency workers; GET and STAT read them
back in random order; LIST fetches 1,000-key pages (ListObjectsV2) from
random points of the bucket, with --delimiter if given; DELETE removes
what PUT wrote. --list-all instead times one complete listing of --prefix.
Credentials come from --access-key/--secret-key or AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Requests are signed with SigV4 (UNSIGNED-PAYLOAD).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.accessKey == "" {
				o.accessKey = os.Getenv("AWS_ACCESS_KEY_ID")
			}
			if o.secretKey == "" {
				o.secretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
			}
			if o.endpoint == "" || o.accessKey == "" || o.secretKey == "" {
				return fmt.Errorf("--endpoint and credentials (--access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) are required")
			}
			if o.concurrency < 1 || (o.count <= 0 && o.duration <= 0) {
				return fmt.Errorf("--concurrency must be at least 1, and --count or --duration positive")
			}
			return runBenchS3(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.endpoint, "endpoint", "", "S3 endpoint URL, e.g. http://127.0.0.1:9000; several, comma-separated, are taken in turn (gateways of one volume)")
	fl.StringVar(&o.accessKey, "access-key", "", "access key (default $AWS_ACCESS_KEY_ID)")
	fl.StringVar(&o.secretKey, "secret-key", "", "secret key (default $AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&o.region, "region", "us-east-1", "region to sign for")
	fl.StringVar(&o.bucket, "bucket", "cairn-bench", "bucket (created when missing)")
	fl.Var(&o.size, "size", "object size, e.g. 4K or 16M")
	fl.IntVar(&o.concurrency, "concurrency", 16, "concurrent requests")
	fl.IntVar(&o.count, "count", 0, "objects per phase (0: use --duration)")
	fl.DurationVar(&o.duration, "duration", 10*time.Second, "time per phase when --count is 0")
	fl.StringVar(&o.phases, "phases", "put,get,stat,list,delete", "phases to run, in order")
	fl.StringVar(&o.delimiter, "delimiter", "", "delimiter for LIST requests")
	fl.StringVar(&o.prefix, "prefix", "", "key prefix (default: a fresh one per run)")
	fl.BoolVar(&o.listAll, "list-all", false, "time one complete ListObjectsV2 listing of --prefix and exit")
	fl.BoolVar(&o.versions, "versions", false, "with --list-all: time a ListObjectVersions walk instead")
	fl.StringVar(&o.xmlParser, "xml", "scan", "how listings are parsed: scan (a scanner of its own) or std (encoding/xml, every field, as SDK clients do)")
	fl.BoolVar(&o.keep, "keep", false, "keep the objects (skip DELETE even if listed)")
	fl.BoolVar(&o.jsonOut, "json", false, "print results as JSON")
	return cmd
}

type s3client struct {
	o     benchS3Options
	http  *http.Client
	bases []*url.URL    // the endpoints, taken in turn
	next  atomic.Uint64 // the next request's endpoint
}

func (c *s3client) do(ctx context.Context, method, key string, query url.Values, body []byte) (*http.Response, error) {
	u := *c.bases[c.next.Add(1)%uint64(len(c.bases))]
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + c.o.bucket
	if key != "" {
		u.Path += "/" + key
	}
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	sigv4.SignHeader(req, c.o.accessKey, c.o.secretKey, c.o.region, sigv4.UnsignedPayload, time.Now())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s: %s", method, key, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

func (c *s3client) list(ctx context.Context, q url.Values) (listPage, error) {
	var p listPage
	resp, err := c.do(ctx, http.MethodGet, "", q, nil)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return p, err
	}
	if c.o.xmlParser == "std" {
		return parseListPageStd(b)
	}
	return parseListPage(b)
}

func runBenchS3(ctx context.Context, o benchS3Options, out io.Writer) error {
	var bases []*url.URL
	for _, e := range strings.Split(o.endpoint, ",") {
		base, err := url.Parse(e)
		if err != nil || base.Host == "" {
			return fmt.Errorf("--endpoint %q: not a URL", e)
		}
		bases = append(bases, base)
	}
	if o.xmlParser != "scan" && o.xmlParser != "std" {
		return fmt.Errorf("--xml %q: want scan or std", o.xmlParser)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2, MaxConnsPerHost: 0, DisableCompression: true}
	c := &s3client{o: o, http: &http.Client{Transport: tr}, bases: bases}
	if resp, err := c.do(ctx, http.MethodPut, "", nil, nil); err == nil {
		resp.Body.Close()
	} else if !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("creating bucket %s: %w", o.bucket, err)
	}
	if o.listAll {
		return benchListAll(ctx, c, out)
	}
	if o.prefix == "" {
		o.prefix = fmt.Sprintf("bench-%d/", time.Now().UnixNano())
		c.o.prefix = o.prefix
	}
	payload := make([]byte, o.size)
	fillRandom(payload)
	var keys []string
	var keysMu sync.Mutex
	var results []phaseResult
	for _, ph := range strings.Split(o.phases, ",") {
		ph = strings.TrimSpace(ph)
		var fn func(ctx context.Context, i int) (int64, error)
		switch ph {
		case "put":
			var seq atomic.Int64
			fn = func(ctx context.Context, i int) (int64, error) {
				k := fmt.Sprintf("%s%08d", o.prefix, seq.Add(1))
				resp, err := c.do(ctx, http.MethodPut, k, nil, payload)
				if err != nil {
					return 0, err
				}
				drain(resp)
				keysMu.Lock()
				keys = append(keys, k)
				keysMu.Unlock()
				return int64(len(payload)), nil
			}
		case "get", "stat":
			if len(keys) == 0 {
				return fmt.Errorf("phase %s needs a put phase before it", ph)
			}
			method := http.MethodGet
			if ph == "stat" {
				method = http.MethodHead
			}
			fn = func(ctx context.Context, i int) (int64, error) {
				resp, err := c.do(ctx, method, keys[rand.IntN(len(keys))], nil, nil)
				if err != nil {
					return 0, err
				}
				return drain(resp)
			}
		case "list":
			fn = func(ctx context.Context, i int) (int64, error) {
				q := url.Values{"list-type": {"2"}, "max-keys": {"1000"}, "prefix": {o.prefix}}
				if o.delimiter != "" {
					q.Set("delimiter", o.delimiter)
				}
				if len(keys) > 0 {
					q.Set("start-after", keys[rand.IntN(len(keys))])
				}
				_, err := c.list(ctx, q)
				return 0, err
			}
		case "delete":
			if o.keep {
				continue
			}
			sort.Strings(keys)
			var next atomic.Int64
			fn = func(ctx context.Context, i int) (int64, error) {
				j := int(next.Add(1)) - 1
				if j >= len(keys) {
					return 0, errDone
				}
				resp, err := c.do(ctx, http.MethodDelete, keys[j], nil, nil)
				if err != nil {
					return 0, err
				}
				return drain(resp)
			}
		default:
			return fmt.Errorf("unknown phase %q (use put, get, stat, list, delete)", ph)
		}
		count := o.count
		if ph == "delete" {
			count = len(keys)
		}
		r := runPhase(ctx, ph, o.concurrency, count, o.duration, fn)
		results = append(results, r)
		if !o.jsonOut {
			fmt.Fprintf(out, "%-7s %9.0f ops/s %9.1f MiB/s  p50 %7.2f ms  p99 %7.2f ms  ops %d  errors %d %s\n",
				r.Phase, r.OpsPerSec, r.MiBPerSec, r.P50ms, r.P99ms, r.Ops, r.Errors, r.FirstErr)
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"endpoint": o.endpoint, "size": int64(o.size), "concurrency": o.concurrency, "phases": results})
	}
	return nil
}

var errDone = fmt.Errorf("done")

// runPhase runs fn from conc workers until count calls (count > 0) or d
// elapsed, and summarizes latencies.
func runPhase(ctx context.Context, name string, conc, count int, d time.Duration, fn func(ctx context.Context, i int) (int64, error)) phaseResult {
	var issued, errs, bytes atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, conc)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(issued.Add(1))
				if count > 0 && i > count || count <= 0 && time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				n, err := fn(ctx, i)
				if err == errDone {
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				bytes.Add(n)
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := phaseResult{Phase: name, Ops: int64(len(all)), Errors: errs.Load(), Seconds: el}
	if len(all) > 0 {
		r.OpsPerSec = float64(len(all)) / el
		r.MiBPerSec = float64(bytes.Load()) / (1 << 20) / el
		r.P50ms = float64(all[len(all)/2]) / 1e6
		r.P99ms = float64(all[min(len(all)-1, len(all)*99/100)]) / 1e6
	}
	if v := firstErr.Load(); v != nil {
		r.FirstErr = "first error: " + v.(string)
	}
	return r
}

// versionsPage is what the bench takes from a ListVersionsResult.
type versionsPage struct {
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIdMarker string
	Versions            []struct{ Key, VersionId string } `xml:"Version"`
	DeleteMarkers       []struct{ Key, VersionId string } `xml:"DeleteMarker"`
	CommonPrefixes      []struct{ Prefix string }
}

// scanVersionsPage reads what a walk needs of a ListVersionsResult (the
// count of entries, the truncation flag and the next markers) without
// decoding every element; the markers' text is unescaped by encoding/xml.
func scanVersionsPage(b []byte) (versionsPage, error) {
	var p versionsPage
	text := func(name string) (string, error) {
		i := bytes.Index(b, []byte("<"+name+">"))
		if i < 0 {
			return "", nil
		}
		j := bytes.Index(b[i:], []byte("</"+name+">"))
		if j < 0 {
			return "", fmt.Errorf("a ListVersionsResult without </%s>", name)
		}
		var s string
		err := xml.Unmarshal(b[i:i+j+len(name)+3], &s)
		return s, err
	}
	n := bytes.Count(b, []byte("<Version>")) + bytes.Count(b, []byte("<DeleteMarker>"))
	p.Versions = make([]struct{ Key, VersionId string }, n)
	t, err := text("IsTruncated")
	if err != nil {
		return p, err
	}
	p.IsTruncated = t == "true"
	if p.NextKeyMarker, err = text("NextKeyMarker"); err != nil {
		return p, err
	}
	p.NextVersionIdMarker, err = text("NextVersionIdMarker")
	return p, err
}

// benchListVersions times one full ListObjectVersions walk of the prefix,
// parsed as --xml says (std: every field with encoding/xml, as SDK
// clients do).
func benchListVersions(ctx context.Context, c *s3client, out io.Writer) error {
	start := time.Now()
	versions, prefixes, pages := 0, 0, 0
	q := url.Values{"versions": {""}, "max-keys": {"1000"}, "prefix": {c.o.prefix}}
	if c.o.delimiter != "" {
		q.Set("delimiter", c.o.delimiter)
	}
	for {
		resp, err := c.do(ctx, http.MethodGet, "", q, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var p versionsPage
		if c.o.xmlParser == "std" {
			if err := xml.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("a ListVersionsResult: %w", err)
			}
		} else if p, err = scanVersionsPage(b); err != nil {
			return err
		}
		pages++
		versions += len(p.Versions) + len(p.DeleteMarkers)
		prefixes += len(p.CommonPrefixes)
		if !p.IsTruncated {
			break
		}
		q.Set("key-marker", p.NextKeyMarker)
		q.Set("version-id-marker", p.NextVersionIdMarker)
	}
	d := time.Since(start)
	if c.o.jsonOut {
		return json.NewEncoder(out).Encode(map[string]any{"versions": versions, "common_prefixes": prefixes, "pages": pages, "seconds": d.Seconds()})
	}
	fmt.Fprintf(out, "listed %d versions and %d common prefixes in %d pages in %.2f s\n", versions, prefixes, pages, d.Seconds())
	return nil
}

// benchListAll times one full ListObjectsV2 walk of the prefix.
func benchListAll(ctx context.Context, c *s3client, out io.Writer) error {
	if c.o.versions {
		return benchListVersions(ctx, c, out)
	}
	start := time.Now()
	keys, prefixes, pages := 0, 0, 0
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "max-keys": {"1000"}, "prefix": {c.o.prefix}}
		if c.o.delimiter != "" {
			q.Set("delimiter", c.o.delimiter)
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		p, err := c.list(ctx, q)
		if err != nil {
			return err
		}
		pages++
		keys += len(p.Keys)
		prefixes += len(p.Prefixes)
		if !p.IsTruncated {
			break
		}
		token = p.NextContinuationToken
	}
	d := time.Since(start)
	if c.o.jsonOut {
		return json.NewEncoder(out).Encode(map[string]any{"keys": keys, "common_prefixes": prefixes, "pages": pages, "seconds": d.Seconds()})
	}
	fmt.Fprintf(out, "listed %d keys and %d common prefixes in %d pages in %.2f s\n", keys, prefixes, pages, d.Seconds())
	return nil
}
