package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	sessionCookie = "cairn_console"
	// preCookie carries the sign-in form's CSRF token before there is a
	// session (double submit: the form field must equal the cookie).
	preCookie  = "cairn_console_pre"
	csrfField  = "csrf"
	csrfHeader = "X-Csrf-Token"
)

// A session is one sign-in. Its keys live only here, in the server's
// memory: the browser holds a random id in an HttpOnly cookie.
type session struct {
	accessKey, secretKey string
	csrf                 string
	created              time.Time
	// admin: the keys may manage identities (checked at sign-in; the
	// admin API decides each call anyway).
	admin bool
	s3    *s3.Client

	mu       sync.Mutex // guards lastUsed and flash
	lastUsed time.Time
	// flash is a message for the user's next page (shown after a redirect).
	flash string

	namesMu sync.Mutex        // guards names and namesAt
	names   map[string]string // uid → user name (userNames)
	namesAt time.Time
}

// sessions are the console's live sign-ins.
type sessions struct {
	lifetime, idle time.Duration
	now            func() time.Time

	mu    sync.Mutex
	byID  map[string]*session
	swept time.Time
}

func newSessions(lifetime, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{lifetime: lifetime, idle: idle, now: now, byID: map[string]*session{}}
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// add starts a session and returns its id.
func (s *sessions) add(se *session) string {
	id := randomToken()
	now := s.now()
	se.created, se.lastUsed, se.csrf = now, now, randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.byID[id] = se
	return id
}

// get returns the live session of id and marks it used, or nil.
func (s *sessions) get(id string) *session {
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.swept) > time.Minute {
		s.sweepLocked(now)
	}
	se := s.byID[id]
	if se != nil && !s.alive(se, now) {
		delete(s.byID, id)
		se = nil
	}
	s.mu.Unlock()
	if se != nil {
		se.mu.Lock()
		se.lastUsed = now
		se.mu.Unlock()
	}
	return se
}

func (s *sessions) alive(se *session, now time.Time) bool {
	se.mu.Lock()
	defer se.mu.Unlock()
	return now.Sub(se.created) < s.lifetime && now.Sub(se.lastUsed) < s.idle
}

// sweepLocked forgets expired sessions (their keys with them).
func (s *sessions) sweepLocked(now time.Time) {
	s.swept = now
	for id, se := range s.byID {
		if !s.alive(se, now) {
			delete(s.byID, id)
		}
	}
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

func (s *sessions) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.byID)
}

// secure tells whether r reached the console over TLS (itself or a proxy
// in front saying so), so its cookies can be Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// sameOrigin refuses a request that says it comes from another origin. A
// browser sends Origin on every POST, PUT and DELETE (and Sec-Fetch-Site
// on every request); a request without either is not from a browser page
// and is judged by its CSRF token alone.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// tokenOK compares a submitted CSRF token with the expected one in
// constant time.
func tokenOK(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// setFlash keeps msg to show on the user's next page.
func (se *session) setFlash(msg string) {
	se.mu.Lock()
	defer se.mu.Unlock()
	se.flash = msg
}

// takeFlash returns the message kept for this page and forgets it.
func (se *session) takeFlash() string {
	se.mu.Lock()
	defer se.mu.Unlock()
	f := se.flash
	se.flash = ""
	return f
}
