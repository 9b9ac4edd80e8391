package kv

import (
	"fmt"
	"net/url"
	"strings"
)

// This file holds what several engine drivers share: how they hide
// credentials in messages, run a closure, and merge a range read from
// the engine with a transaction's own writes.

// RedactURL hides the password of a metadata URL, for messages and for
// what df and mount show. It also handles URLs Go does not parse, such as
// mysql://USER:PASSWORD@(HOST:PORT)/DB.
func RedactURL(metaURL string) string {
	if u, err := url.Parse(metaURL); err == nil {
		if u.User == nil {
			return metaURL
		}
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(metaURL, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return metaURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return metaURL
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// RedactText hides the user information of metaURL wherever it appears in
// msg (a client library's error may quote the address it was given).
func RedactText(metaURL, msg string) string {
	if i := strings.Index(metaURL, "://"); i >= 0 {
		if j := strings.LastIndex(metaURL, "@"); j > i+3 {
			msg = strings.ReplaceAll(msg, metaURL[i+3:j], "xxxxx")
		}
	}
	return msg
}

// RunClosure runs fn on t, turning a panic into an error that names the
// engine, so that one closure cannot take a driver's other work down.
func RunClosure(engine string, fn func(Tx) error, t Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: transaction closure panicked: %v", engine, r)
		}
	}()
	return fn(t)
}

// A Page is the next keys of a range as the engine holds them, in the
// scan's order, with their values (nil values when keys only); more
// reports whether the engine may hold keys past them.
type Page struct {
	Keys []string
	Vals [][]byte
	More bool
}

// MergePending walks a range in the scan's order, merging the keys the
// engine returns page by page (next) with pending, the keys the
// transaction has written but not committed, sorted in the scan's order.
// It calls fn once per key, with the engine's value when the engine holds
// the key (inEngine) and nil otherwise, and stops when fn returns false.
// The caller lays its own writes (and deletions) over what fn is given.
func MergePending(pending []string, reverse bool, next func() (Page, error), fn func(key string, val []byte, inEngine bool) bool) error {
	var page Page
	page.More = true
	for {
		if len(page.Keys) == 0 && page.More {
			p, err := next()
			if err != nil {
				return err
			}
			page = p
		}
		var k string
		var v []byte
		inEngine := false
		switch {
		case len(page.Keys) > 0 && (len(pending) == 0 || page.Keys[0] == pending[0] || (page.Keys[0] < pending[0]) != reverse):
			k, inEngine = page.Keys[0], true
			page.Keys = page.Keys[1:]
			if len(page.Vals) > 0 {
				v, page.Vals = page.Vals[0], page.Vals[1:]
			}
			if len(pending) > 0 && pending[0] == k {
				pending = pending[1:]
			}
		case len(pending) > 0:
			k, pending = pending[0], pending[1:]
		default:
			return nil
		}
		if !fn(k, v, inEngine) {
			return nil
		}
	}
}
