package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/smithy-go"

	"cairn/internal/adminapi"
)

// A call is one request to the console.
type call struct {
	w  http.ResponseWriter
	r  *http.Request
	se *session // nil on routes that need no sign-in
	id string   // the session's id
}

// A userError is an error whose message is shown to the user as is.
type userError struct {
	status int
	msg    string
}

func (e *userError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &userError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// errExpired is answered to a request whose session is gone.
var errExpired = &userError{status: http.StatusUnauthorized, msg: "Your session has ended. Sign in again."}

// wrap checks a route's preconditions — a live session and, for anything
// that is not a GET, the same origin and the session's CSRF token — runs
// its handler and answers its error.
func (c *Console) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := &call{w: w, r: r}
		err := c.check(rt, k)
		if err == nil {
			err = rt.handle(c, k)
		}
		if err != nil {
			c.fail(rt, k, err)
		}
	})
}

func (c *Console) check(rt route, k *call) error {
	r := k.r
	mutates := r.Method != http.MethodGet && r.Method != http.MethodHead
	if mutates && !sameOrigin(r) {
		return &userError{status: http.StatusForbidden, msg: "Refused: the request came from another site."}
	}
	if !rt.signedIn {
		return nil
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		k.id, k.se = ck.Value, c.sessions.get(ck.Value)
	}
	if k.se == nil {
		return errExpired
	}
	if mutates {
		got := r.Header.Get(csrfHeader)
		if got == "" && !rt.api {
			got = r.PostFormValue(csrfField)
		}
		if !tokenOK(got, k.se.csrf) {
			return &userError{status: http.StatusForbidden, msg: "Refused: the form was stale or forged. Reload the page and try again."}
		}
	}
	return nil
}

// fail answers err: as JSON on API routes, otherwise as a page (or, for an
// ended session, a redirect to the sign-in page that comes back here).
func (c *Console) fail(rt route, k *call, err error) {
	status, msg := c.describe(err)
	if status >= 500 && !errors.Is(err, context.Canceled) {
		c.log.Error("console: request failed", "method", k.r.Method, "path", k.r.URL.Path, "err", err)
	}
	if rt.api {
		writeJSON(k.w, status, map[string]string{"error": msg})
		return
	}
	if errors.Is(err, errExpired) {
		next := k.r.URL.RequestURI()
		if k.r.Method != http.MethodGet {
			next = k.r.Referer()
		}
		http.Redirect(k.w, k.r, Prefix+"signin?next="+url.QueryEscape(localPath(next)), http.StatusSeeOther)
		return
	}
	k.w.WriteHeader(status)
	c.render(k, "error", map[string]any{"Title": "Error", "Message": msg, "Status": status})
}

// describe turns an error into a status and a message a user can act on.
func (c *Console) describe(err error) (int, string) {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.status, ue.msg
	}
	var ad *adminapi.Error
	if errors.As(err, &ad) {
		return ad.Status, ad.Message + " (" + ad.Code + ")"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		status := http.StatusBadRequest
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
			status = re.HTTPStatusCode()
		}
		if msg, ok := s3Messages[code]; ok {
			return status, msg + " (" + code + ")"
		}
		m := ae.ErrorMessage()
		if m == "" {
			m = "The storage service refused the request."
		}
		return status, m + " (" + code + ")"
	}
	return http.StatusBadGateway, "The storage service could not be reached or failed; try again. (The server's log has the details.)"
}

// s3Messages say what an S3 error code means for a console user.
var s3Messages = map[string]string{
	"AccessDenied":                   "You are not allowed to do this with your access key.",
	"NoSuchBucket":                   "The bucket does not exist (any more).",
	"NoSuchKey":                      "The object does not exist (any more).",
	"BucketNotEmpty":                 "The bucket is not empty: delete its objects (and their versions) first.",
	"BucketAlreadyExists":            "A bucket of that name exists already.",
	"BucketAlreadyOwnedByYou":        "You have a bucket of that name already.",
	"InvalidBucketName":              "That is not a valid bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens.",
	"QuotaExceeded":                  "The bucket's quota does not leave room for this.",
	"XMinioAdminBucketQuotaExceeded": "The bucket's quota does not leave room for this.",
	"EntityTooLarge":                 "The file is larger than the server accepts.",
	"KeyTooLongError":                "The name is too long.",
	"InvalidObjectName":              "The name cannot be stored: a name's parts cannot be '.' or '..', empty, or over 255 bytes.",
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// localPath keeps a "next" address inside the console, so the sign-in
// page cannot be made to send a user elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return Prefix
	}
	if u.Host != "" || u.Scheme != "" || u.Opaque != "" {
		p = u.RequestURI()
	}
	if !strings.HasPrefix(p, Prefix) || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
		return Prefix
	}
	return p
}
