package s3fs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"cairn/internal/posix"
)

// Lifecycle configuration: a bucket's rules, stored as its lifecycle
// configuration (a JSON document in an internal xattr of its directory).
// The rules are kept in the shape they came in (a rule's prefix given at
// the rule's top level, as older clients send it, comes back there), so
// that a configuration read back is the one written.

// lifecycleXattr holds a bucket's lifecycle rules.
const lifecycleXattr = "cairn.s3.lifecycle"

// ErrNoSuchLifecycle is a bucket without lifecycle rules.
var ErrNoSuchLifecycle = errors.New("s3fs: the bucket has no lifecycle configuration")

// MaxLifecycleRules is AWS's limit of rules in a configuration.
const MaxLifecycleRules = 1000

// LifecycleRule is one rule.
type LifecycleRule struct {
	ID     string `json:"id,omitempty"`
	Status string `json:"status"` // Enabled or Disabled
	// Prefix is the rule's top-level prefix (the older form); Filter the
	// newer one. At most one of them is set.
	Prefix *string          `json:"prefix,omitempty"`
	Filter *LifecycleFilter `json:"filter,omitempty"`

	Expiration                     *LifecycleExpiration  `json:"exp,omitempty"`
	NoncurrentVersionExpiration    *NoncurrentExpiration `json:"ncexp,omitempty"`
	AbortIncompleteMultipartUpload *AbortIncomplete      `json:"abort,omitempty"`
}

// LifecycleFilter selects the objects of a rule: a prefix, one tag, size
// bounds, or several of them under And.
type LifecycleFilter struct {
	Prefix                *string       `json:"prefix,omitempty"`
	Tag                   *Tag          `json:"tag,omitempty"`
	ObjectSizeGreaterThan *int64        `json:"gt,omitempty"`
	ObjectSizeLessThan    *int64        `json:"lt,omitempty"`
	And                   *LifecycleAnd `json:"and,omitempty"`
}

// LifecycleAnd combines conditions.
type LifecycleAnd struct {
	Prefix                *string `json:"prefix,omitempty"`
	Tags                  []Tag   `json:"tags,omitempty"`
	ObjectSizeGreaterThan *int64  `json:"gt,omitempty"`
	ObjectSizeLessThan    *int64  `json:"lt,omitempty"`
}

// LifecycleExpiration expires current versions after Days or on Date, or
// removes delete markers left alone (ExpiredObjectDeleteMarker).
type LifecycleExpiration struct {
	Days                      *int       `json:"days,omitempty"`
	Date                      *time.Time `json:"date,omitempty"`
	ExpiredObjectDeleteMarker *bool      `json:"edm,omitempty"`
}

// NoncurrentExpiration removes noncurrent versions NoncurrentDays after
// they became noncurrent, keeping the NewerNoncurrentVersions newest.
type NoncurrentExpiration struct {
	NoncurrentDays          *int `json:"days,omitempty"`
	NewerNoncurrentVersions *int `json:"newer,omitempty"`
}

// AbortIncomplete aborts multipart uploads DaysAfterInitiation days old.
type AbortIncomplete struct {
	DaysAfterInitiation *int `json:"days,omitempty"`
}

func invalidRule(i int, format string, args ...any) error {
	return fmt.Errorf("%w: rule %d: %s", ErrInvalidArgument, i+1, fmt.Sprintf(format, args...))
}

// ValidateLifecycle checks rules as AWS does: IDs of up to 255 characters
// and unique, Enabled or Disabled, one prefix form, at least one action,
// positive day counts, dates at midnight UTC, size bounds that leave room,
// and actions that fit the filter (no tag or size filter with
// AbortIncompleteMultipartUpload or ExpiredObjectDeleteMarker). The
// status is the caller's to check (S3 answers MalformedXML for it).
func ValidateLifecycle(rules []LifecycleRule) error {
	if len(rules) == 0 || len(rules) > MaxLifecycleRules {
		return fmt.Errorf("%w: a lifecycle configuration has 1 to %d rules", ErrInvalidArgument, MaxLifecycleRules)
	}
	ids := map[string]bool{}
	for i, r := range rules {
		if utf8.RuneCountInString(r.ID) > 255 {
			return invalidRule(i, "the ID is longer than 255 characters")
		}
		if r.ID != "" {
			if ids[r.ID] {
				return invalidRule(i, "the ID %q is used twice", r.ID)
			}
			ids[r.ID] = true
		}
		if r.Prefix != nil && r.Filter != nil {
			return invalidRule(i, "a rule has a Prefix or a Filter, not both")
		}
		if r.Expiration == nil && r.NoncurrentVersionExpiration == nil && r.AbortIncompleteMultipartUpload == nil {
			return invalidRule(i, "a rule needs at least one action")
		}
		tagsOrSize := false
		if f := r.Filter; f != nil {
			n := 0
			for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
				if set {
					n++
				}
			}
			if n > 1 {
				return invalidRule(i, "a Filter holds one condition; combine several under And")
			}
			gt, lt := f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
			if a := f.And; a != nil {
				gt, lt = a.ObjectSizeGreaterThan, a.ObjectSizeLessThan
				if err := ValidateTags(a.Tags, MaxObjectTags); err != nil {
					return invalidRule(i, "%v", err)
				}
				tagsOrSize = len(a.Tags) > 0
			}
			if f.Tag != nil {
				if err := ValidateTags([]Tag{*f.Tag}, 1); err != nil {
					return invalidRule(i, "%v", err)
				}
				tagsOrSize = true
			}
			if gt != nil || lt != nil {
				tagsOrSize = true
			}
			if gt != nil && *gt < 0 || lt != nil && *lt <= 0 || gt != nil && lt != nil && *lt <= *gt {
				return invalidRule(i, "the object size bounds leave no object")
			}
		}
		if e := r.Expiration; e != nil {
			n := 0
			if e.Days != nil {
				n++
				if *e.Days <= 0 {
					return invalidRule(i, "Expiration Days must be a positive integer")
				}
			}
			if e.Date != nil {
				n++
				if d := e.Date.UTC(); d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
					return invalidRule(i, "an Expiration Date must be midnight UTC")
				}
			}
			if e.ExpiredObjectDeleteMarker != nil {
				n++
				if tagsOrSize {
					return invalidRule(i, "ExpiredObjectDeleteMarker cannot be used with a tag or size filter")
				}
			}
			if n != 1 {
				return invalidRule(i, "an Expiration has one of Days, Date and ExpiredObjectDeleteMarker")
			}
		}
		if e := r.NoncurrentVersionExpiration; e != nil {
			if e.NoncurrentDays == nil || *e.NoncurrentDays <= 0 {
				return invalidRule(i, "NoncurrentDays must be a positive integer")
			}
			if e.NewerNoncurrentVersions != nil && (*e.NewerNoncurrentVersions <= 0 || *e.NewerNoncurrentVersions > 100) {
				return invalidRule(i, "NewerNoncurrentVersions must be between 1 and 100")
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation == nil || *a.DaysAfterInitiation <= 0 {
				return invalidRule(i, "DaysAfterInitiation must be a positive integer")
			}
			if tagsOrSize {
				return invalidRule(i, "AbortIncompleteMultipartUpload cannot be used with a tag or size filter")
			}
		}
	}
	return nil
}

// GetBucketLifecycle returns the bucket's lifecycle rules.
func (f *FS) GetBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string) ([]LifecycleRule, error) {
	var rules []LifecycleRule
	err := f.bucketConfig(ctx, bucket, lifecycleXattr, &rules)
	if errors.Is(err, errNoConfig) {
		return nil, ErrNoSuchLifecycle
	}
	return rules, err
}

// PutBucketLifecycle replaces the bucket's lifecycle rules.
func (f *FS) PutBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string, rules []LifecycleRule) error {
	if err := ValidateLifecycle(rules); err != nil {
		return err
	}
	for i := range rules {
		if rules[i].ID == "" {
			rules[i].ID = fmt.Sprintf("rule-%d", i+1)
		}
	}
	if err := f.setBucketConfig(ctx, cred, bucket, lifecycleXattr, rules); err != nil {
		return err
	}
	f.versions.forget(bucket)
	return nil
}

// DeleteBucketLifecycle removes the bucket's lifecycle rules.
func (f *FS) DeleteBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string) error {
	if err := f.setBucketConfig(ctx, cred, bucket, lifecycleXattr, nil); err != nil {
		return err
	}
	f.versions.forget(bucket)
	return nil
}

// prefix is the prefix a rule applies to ("" for every key).
func (r *LifecycleRule) prefix() string {
	switch {
	case r.Prefix != nil:
		return *r.Prefix
	case r.Filter != nil && r.Filter.Prefix != nil:
		return *r.Filter.Prefix
	case r.Filter != nil && r.Filter.And != nil && r.Filter.And.Prefix != nil:
		return *r.Filter.And.Prefix
	}
	return ""
}

// matches reports whether an object (key, size, tags) is one the rule's
// filter selects.
func (r *LifecycleRule) matches(key string, size int64, tags []Tag) bool {
	if !r.matchesUntagged(key, size) {
		return false
	}
	f := r.Filter
	if f == nil {
		return true
	}
	var want []Tag
	if f.Tag != nil {
		want = []Tag{*f.Tag}
	}
	if a := f.And; a != nil {
		want = a.Tags
	}
	for _, w := range want {
		found := false
		for _, t := range tags {
			if t == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matchesUntagged is matches without the tag conditions: the prefix and
// the size bounds.
func (r *LifecycleRule) matchesUntagged(key string, size int64) bool {
	if !strings.HasPrefix(key, r.prefix()) {
		return false
	}
	f := r.Filter
	if f == nil {
		return true
	}
	gt, lt := f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
	if a := f.And; a != nil {
		gt, lt = a.ObjectSizeGreaterThan, a.ObjectSizeLessThan
	}
	return !(gt != nil && size <= *gt || lt != nil && size >= *lt)
}

// needsTags reports whether the rule's filter looks at tags.
func (r *LifecycleRule) needsTags() bool {
	f := r.Filter
	return f != nil && (f.Tag != nil || f.And != nil && len(f.And.Tags) > 0)
}

// expiry returns when an object created at mtime expires under the rule's
// Expiration (zero: it does not), with day the length of a lifecycle day:
// Days count from the creation time rounded up to the next midnight UTC,
// as AWS does.
func (r *LifecycleRule) expiry(mtime time.Time, day time.Duration) time.Time {
	e := r.Expiration
	switch {
	case e == nil || r.Status != "Enabled":
		return time.Time{}
	case e.Date != nil:
		return *e.Date
	case e.Days != nil:
		if day != 24*time.Hour {
			return mtime.Add(time.Duration(*e.Days) * day)
		}
		start := mtime.UTC().Truncate(24 * time.Hour)
		if !start.Equal(mtime.UTC()) {
			start = start.Add(24 * time.Hour)
		}
		return start.AddDate(0, 0, *e.Days)
	}
	return time.Time{}
}

// ExpirationOf returns the expiry date and rule ID that the bucket's
// lifecycle gives an object (zero time: none): the x-amz-expiration of
// PUT, GET and HEAD. The rules are cached with the versioning state.
func (f *FS) ExpirationOf(ctx context.Context, bucket string, oi ObjectInfo) (time.Time, string) {
	rules := f.cachedLifecycle(ctx, bucket)
	var best time.Time
	id := ""
	for i := range rules {
		r := &rules[i]
		if r.Expiration == nil || r.Expiration.Days == nil && r.Expiration.Date == nil || !r.matchesUntagged(oi.Key, oi.Size) {
			continue
		}
		if r.needsTags() && !r.matches(oi.Key, oi.Size, oi.Tags) {
			continue
		}
		// The announced date counts real days even when the worker's day
		// is shortened (Options.LifecycleDay, for trying rules out).
		if t := r.expiry(oi.ModTime, 24*time.Hour); !t.IsZero() && (best.IsZero() || t.Before(best)) {
			best, id = t, r.ID
		}
	}
	return best, id
}

// cachedLifecycle returns the bucket's rules through the versioning
// cache (nil: none).
func (f *FS) cachedLifecycle(ctx context.Context, bucket string) []LifecycleRule {
	if _, err := f.Versioning(ctx, bucket); err != nil {
		return nil
	}
	return f.versions.rules(bucket)
}
