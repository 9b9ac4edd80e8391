package notify

import (
	"context"
	"errors"
	"strings"
	"time"

	"cairn/internal/meta"
)

// A Listener says which events a live listener (ListenBucketNotification,
// as `mc event listen` and `mc watch` use it) wants.
type Listener struct {
	Bucket string // "" listens to every bucket
	Prefix string
	Suffix string
	// Events are event names with their "s3:" prefix and wildcards; none
	// means all.
	Events []string
	// Ping is how often a listener with no events is sent an empty
	// document, so that proxies keep the connection; default 10 s.
	Ping time.Duration
	// Poll is how often the feed is read for new records; default 50 ms.
	Poll time.Duration
}

// Validate checks the listener's event names.
func (l *Listener) Validate() error {
	for _, e := range l.Events {
		if !validEvent(e) {
			return &ConfigError{Name: "events", Value: e, Msg: "The event is not supported for notifications: " + e}
		}
	}
	return nil
}

// WantsAccess reports whether the listener wants ObjectAccessed events
// (which reads record only when someone wants them).
func (l *Listener) WantsAccess() bool {
	if len(l.Events) == 0 {
		return true
	}
	for _, e := range l.Events {
		for _, ev := range []string{"ObjectAccessed:Get", "ObjectAccessed:Head"} {
			if eventMatches(e, ev) {
				return true
			}
		}
	}
	return false
}

func (l *Listener) wants(p *meta.Publish) bool {
	if l.Bucket != "" && p.Bucket != l.Bucket {
		return false
	}
	if !strings.HasPrefix(p.Key, l.Prefix) || !strings.HasSuffix(p.Key, l.Suffix) {
		return false
	}
	if len(l.Events) == 0 {
		return true
	}
	for _, e := range l.Events {
		if eventMatches(e, p.Event) {
			return true
		}
	}
	return false
}

// Listen follows the change feed from its head, calling send with each
// event l wants as one line ({"Records":[…]} and a newline), and with
// "{}\n" after l.Ping without any, until ctx ends or send fails. Events
// made before the call are not sent; a listener that falls behind the
// feed's retention loses the records trimmed, as a live view may.
func Listen(ctx context.Context, feed Feed, region string, l Listener, send func([]byte) error) error {
	if l.Ping <= 0 {
		l.Ping = 10 * time.Second
	}
	if l.Poll <= 0 {
		l.Poll = 50 * time.Millisecond
	}
	pos, err := feed.FeedHead(ctx)
	if err != nil {
		return err
	}
	quiet := time.Now()
	for {
		recs, last, err := feed.ReadFeedOps(ctx, pos, 1000, feedOps)
		recs = fsEvents(recs)
		if errors.Is(err, meta.ErrFeedTruncated) {
			if pos, err = feed.FeedOldest(ctx); err != nil {
				return err
			}
			pos--
			continue
		}
		if err != nil {
			return err
		}
		for i := range recs {
			r := &recs[i]
			if r.S3 == nil || !l.wants(r.S3) {
				continue
			}
			m, err := NewMessage(r, region, "")
			if err != nil {
				continue
			}
			if err := send(append(m.Body, '\n')); err != nil {
				return err
			}
			quiet = time.Now()
		}
		if time.Since(quiet) >= l.Ping {
			if err := send([]byte("{}\n")); err != nil {
				return err
			}
			quiet = time.Now()
		}
		moved := last != pos
		pos = last
		if !moved {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(l.Poll):
			}
		}
	}
}
