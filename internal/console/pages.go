package console

import (
	"bytes"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// parsePages parses each page template with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"size":      humanSize,
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"browse":    browseURL,
		"deref":     aws.ToString,
		"derefTime": aws.ToTime,
		"int64":     func(n uint64) int64 { return int64(n) },
	}
	names, err := fs.Glob(assets, "assets/pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return pages, nil
}

// render writes page name with data, adding what the layout needs.
func (c *Console) render(k *call, name string, data map[string]any) {
	data["Version"] = c.opt.Version
	if k.se != nil {
		data["CSRF"] = k.se.csrf
		data["User"] = k.se.accessKey
		data["Admin"] = k.se.admin
	}
	var b bytes.Buffer
	if err := c.pages[name].Execute(&b, data); err != nil {
		c.log.Error("console: page failed", "page", name, "err", err)
		http.Error(k.w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := k.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	k.w.Write(b.Bytes())
}

func (c *Console) home(k *call) error {
	if ck, err := k.r.Cookie(sessionCookie); err == nil && c.sessions.get(ck.Value) != nil {
		http.Redirect(k.w, k.r, Prefix+"buckets", http.StatusSeeOther)
		return nil
	}
	http.Redirect(k.w, k.r, Prefix+"signin", http.StatusSeeOther)
	return nil
}

func (c *Console) signinPage(k *call) error {
	return c.showSignin(k, http.StatusOK, "")
}

func (c *Console) showSignin(k *call, status int, msg string) error {
	tok := randomToken()
	setCookie(k.w, k.r, preCookie, tok, 3600)
	if status != http.StatusOK {
		k.w.WriteHeader(status)
	}
	c.render(k, "signin", map[string]any{"Title": "Sign in", "Pre": tok, "Next": localPath(k.r.FormValue("next")),
		"Message": msg, "AccessKey": k.r.PostFormValue("accessKey")})
	return nil
}

// signin checks the keys with a request to the gateway: they are good
// when it authenticates them, whatever the user may then do. A failed
// check counts toward the key's lockout there, as any S3 request would.
func (c *Console) signin(k *call) error {
	r := k.r
	ck, err := r.Cookie(preCookie)
	if err != nil || !tokenOK(r.PostFormValue(csrfField), ck.Value) {
		return c.showSignin(k, http.StatusForbidden, "The sign-in form was stale. Try again.")
	}
	ak, sk := strings.TrimSpace(r.PostFormValue("accessKey")), r.PostFormValue("secretKey")
	if ak == "" || sk == "" {
		return c.showSignin(k, http.StatusBadRequest, "Enter an access key and its secret.")
	}
	cl := c.newS3(ak, sk)
	_, err = cl.ListBuckets(r.Context(), &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	var ae smithy.APIError
	if err != nil && errors.As(err, &ae) {
		switch {
		case ae.ErrorCode() == "AccessDenied" && strings.Contains(ae.ErrorMessage(), "try again later"):
			c.log.Info("console: sign-in refused (locked out)", "access_key", ak, "source", r.RemoteAddr)
			return c.showSignin(k, http.StatusForbidden, "Too many failed sign-ins with this access key. Try again later.")
		case ae.ErrorCode() == "AccessDenied" && strings.Contains(ae.ErrorMessage(), "disabled"):
			return c.showSignin(k, http.StatusForbidden, "This access key is disabled.")
		case ae.ErrorCode() == "AccessDenied":
			err = nil // authenticated; listing buckets is simply not allowed
		case ae.ErrorCode() == "ExpiredToken":
			return c.showSignin(k, http.StatusForbidden, "This access key has expired.")
		default:
			c.log.Info("console: sign-in failed", "access_key", ak, "source", r.RemoteAddr, "code", ae.ErrorCode())
			return c.showSignin(k, http.StatusUnauthorized, "Wrong access key or secret.")
		}
	}
	if err != nil {
		return err
	}
	se := &session{accessKey: ak, secretKey: sk, s3: cl}
	_, aerr := c.adminClient(se).ListUsers(r.Context())
	se.admin = aerr == nil
	id := c.sessions.add(se)
	setCookie(k.w, r, sessionCookie, id, 0)
	setCookie(k.w, r, preCookie, "", -1)
	http.Redirect(k.w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

func (c *Console) signout(k *call) error {
	c.sessions.remove(k.id)
	setCookie(k.w, k.r, sessionCookie, "", -1)
	http.Redirect(k.w, k.r, Prefix+"signin", http.StatusSeeOther)
	return nil
}

func (c *Console) bucketsPage(k *call) error {
	out, err := k.se.s3.ListBuckets(k.r.Context(), &s3.ListBucketsInput{})
	var ae smithy.APIError
	denied := errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"
	if err != nil && !denied {
		return err
	}
	var buckets []types.Bucket
	if out != nil {
		buckets = out.Buckets
	}
	c.render(k, "buckets", map[string]any{"Title": "Buckets", "Buckets": buckets, "Denied": denied,
		"Message": k.se.takeFlash()})
	return nil
}

func (c *Console) createBucket(k *call) error {
	r := k.r
	name := strings.TrimSpace(r.PostFormValue("bucket"))
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	lock := r.PostFormValue("lock") == "on"
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := k.se.s3.CreateBucket(r.Context(), in); err != nil {
		return err
	}
	if r.PostFormValue("versioning") == "on" && !lock { // object lock turns versioning on by itself
		if _, err := k.se.s3.PutBucketVersioning(r.Context(), &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			return err
		}
	}
	http.Redirect(k.w, r, browseURL(name, ""), http.StatusSeeOther)
	return nil
}

func (c *Console) deleteBucket(k *call) error {
	name := k.r.PostFormValue("bucket")
	if _, err := k.se.s3.DeleteBucket(k.r.Context(), &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		return err
	}
	k.se.setFlash("Bucket " + name + " deleted.")
	http.Redirect(k.w, k.r, Prefix+"buckets", http.StatusSeeOther)
	return nil
}

// A crumb is one step of the folder path shown above a listing.
type crumb struct {
	Name, URL string
}

func (c *Console) browsePage(k *call) error {
	bucket, prefix := k.r.FormValue("bucket"), k.r.FormValue("prefix")
	if err := checkName(bucket, prefix); err != nil {
		return err
	}
	filter := k.r.FormValue("filter")
	page, err := c.list(k, bucket, prefix, filter, "", pageSize(k.r))
	listDenied := errorCode(err) == "AccessDenied"
	if err != nil && !listDenied {
		return err
	}
	crumbs := []crumb{{Name: bucket, URL: browseURL(bucket, "")}}
	p := ""
	for _, part := range strings.SplitAfter(prefix, "/") {
		if part == "" {
			continue
		}
		p += part
		crumbs = append(crumbs, crumb{Name: strings.TrimSuffix(part, "/"), URL: browseURL(bucket, p)})
	}
	c.render(k, "browse", map[string]any{"Title": bucket, "Bucket": bucket, "Prefix": prefix, "Filter": filter,
		"Crumbs": crumbs, "Page": page, "PageSize": pageSize(k.r), "ListDenied": listDenied})
	return nil
}

// browseURL is the address of the listing of prefix in bucket.
func browseURL(bucket, prefix string) string {
	q := url.Values{"bucket": {bucket}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	return Prefix + "browse?" + q.Encode()
}

// checkName refuses a bucket or key no S3 request could name, before
// anything is sent.
func checkName(bucket, key string) error {
	if bucket == "" || strings.ContainsAny(bucket, "/\x00") {
		return badRequest("No such bucket name: %q.", bucket)
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." || part == "." {
			return badRequest("Refused: a name with a %q part.", part)
		}
	}
	if strings.ContainsRune(key, 0) {
		return badRequest("Refused: a name with a NUL byte.")
	}
	return nil
}

// humanSize writes n bytes in binary units.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// notFound answers a console path that is no page.
func (c *Console) notFound(k *call) error {
	return &userError{status: http.StatusNotFound, msg: "There is no such page in the console."}
}
