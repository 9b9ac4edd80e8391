package s3fs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"cairn/internal/posix"
)

// Tag is an object's or a bucket's tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// AWS's limits on tags.
const (
	MaxObjectTags = 10
	MaxBucketTags = 50
	MaxTagKey     = 128 // characters
	MaxTagValue   = 256 // characters
)

// ErrInvalidTag is a tag set that breaks a rule (too many tags, a key or
// value too long or with characters tags may not hold, a key twice, a
// key in the reserved aws: namespace).
var ErrInvalidTag = errors.New("s3fs: invalid tag")

// ErrNoSuchTagSet is a bucket without tags.
var ErrNoSuchTagSet = errors.New("s3fs: the bucket has no tags")

// ValidateTags checks tags against AWS's rules, with at most max tags.
func ValidateTags(tags []Tag, max int) error {
	if len(tags) > max {
		return fmt.Errorf("%w: %d tags, at most %d are allowed", ErrInvalidTag, len(tags), max)
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "":
			return fmt.Errorf("%w: a tag key is empty", ErrInvalidTag)
		case utf8.RuneCountInString(t.Key) > MaxTagKey:
			return fmt.Errorf("%w: the tag key %.20q… is longer than %d characters", ErrInvalidTag, t.Key, MaxTagKey)
		case utf8.RuneCountInString(t.Value) > MaxTagValue:
			return fmt.Errorf("%w: the value of tag %q is longer than %d characters", ErrInvalidTag, t.Key, MaxTagValue)
		case !tagText(t.Key) || !tagText(t.Value):
			return fmt.Errorf("%w: tag %q holds a character tags may not have", ErrInvalidTag, t.Key)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return fmt.Errorf("%w: the tag key %q is in the reserved aws: namespace", ErrInvalidTag, t.Key)
		case seen[t.Key]:
			return fmt.Errorf("%w: the tag key %q is given twice", ErrInvalidTag, t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// tagText reports whether s holds only what AWS allows in tags: letters,
// digits and spaces of any script, and + - = . _ : / @.
func tagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.IsSpace(r) || unicode.IsMark(r) {
			continue
		}
		if !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// GetObjectTagging returns the tags of an object's version vid ("":
// the current one). cred needs read permission
// on the object.
func (f *FS) GetObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, vid string) ([]Tag, error) {
	_, m, err := f.lookupVersion(ctx, cred, bucket, key, vid, posix.MayRead, false)
	if err != nil {
		return nil, err
	}
	return m.Tags, nil
}

// PutObjectTagging replaces an object's tags (none: removes them). cred
// needs write permission on the object, as for setting its user xattrs.
func (f *FS) PutObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, vid string, tags []Tag) error {
	if err := ValidateTags(tags, MaxObjectTags); err != nil {
		return err
	}
	return f.setTags(ctx, cred, bucket, key, vid, tags, "ObjectTagging:Put")
}

// DeleteObjectTagging removes an object's tags.
func (f *FS) DeleteObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, vid string) error {
	return f.setTags(ctx, cred, bucket, key, vid, nil, "ObjectTagging:Delete")
}

// setTags stores an object's tags, recording event ev.
func (f *FS) setTags(ctx context.Context, cred posix.Cred, bucket, key, vid string, tags []Tag, ev string) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	r, m, err := f.lookupVersion(ctx, cred, bucket, key, vid, posix.MayWrite, false)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		tags = nil
	}
	m.Tags = tags
	return f.storeMeta(event(ctx, ev, bucket, key, m.VersionID), r.Entry.Ino, m)
}

// bucketTagsXattr holds a bucket's tags (JSON []Tag) on its directory.
const bucketTagsXattr = "cairn.s3.tags"

// GetBucketTagging returns a bucket's tags, or ErrNoSuchTagSet.
func (f *FS) GetBucketTagging(ctx context.Context, cred posix.Cred, bucket string) ([]Tag, error) {
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return nil, err
	}
	var tags []Tag
	err = f.configAt(ctx, b.Ino, bucket, bucketTagsXattr, &tags)
	if errors.Is(err, errNoConfig) {
		return nil, ErrNoSuchTagSet
	}
	return tags, err
}

// PutBucketTagging replaces a bucket's tags; none removes them. Only the
// bucket's owner (or root) may change its configuration.
func (f *FS) PutBucketTagging(ctx context.Context, cred posix.Cred, bucket string, tags []Tag) error {
	if err := ValidateTags(tags, MaxBucketTags); err != nil {
		return err
	}
	if len(tags) == 0 {
		return f.setBucketConfig(ctx, cred, bucket, bucketTagsXattr, nil)
	}
	return f.setBucketConfig(ctx, cred, bucket, bucketTagsXattr, tags)
}

// DeleteBucketTagging removes a bucket's tags.
func (f *FS) DeleteBucketTagging(ctx context.Context, cred posix.Cred, bucket string) error {
	return f.PutBucketTagging(ctx, cred, bucket, nil)
}
