package iam

import (
	"context"
	"errors"

	"cairn/internal/iam/policy"
	"cairn/internal/meta/kv"
)

// Bucket policies live with the identities ('I' 'b' bucket), so that a
// change moves the same change counter and every gateway's cache follows
// within its PollInterval. The gateway drops a bucket's policy when it
// deletes the bucket, and again when it creates one of that name (in case
// the process died between the two steps of a delete).
const famBucket = 'b'

// ErrNoSuchBucketPolicy is a bucket without a policy.
var ErrNoSuchBucketPolicy = errors.New("iam: the bucket has no policy")

// PutBucketPolicy sets bucket's policy. Errors from the parser
// (*policy.Error) name the bad statement.
func (i *Identities) PutBucketPolicy(ctx context.Context, bucket string, doc []byte) error {
	if _, err := policy.ParseBucketPolicy(doc, bucket); err != nil {
		return err
	}
	return i.update(ctx, func(tx kv.Tx) error { return tx.Put(ikey(famBucket, bucket), doc) })
}

// GetBucketPolicy returns bucket's policy document as it was given.
func (i *Identities) GetBucketPolicy(ctx context.Context, bucket string) ([]byte, error) {
	if i.store == nil {
		return nil, ErrNoSuchBucketPolicy
	}
	var doc []byte
	err := i.view(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(ikey(famBucket, bucket))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNoSuchBucketPolicy
		}
		doc = append([]byte(nil), b...)
		return err
	})
	return doc, err
}

// DeleteBucketPolicy removes bucket's policy, if it has one.
func (i *Identities) DeleteBucketPolicy(ctx context.Context, bucket string) error {
	if i.store == nil {
		return nil
	}
	return i.update(ctx, func(tx kv.Tx) error {
		if _, err := tx.Get(ikey(famBucket, bucket)); errors.Is(err, kv.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return tx.Delete(ikey(famBucket, bucket))
	})
}

// BucketPolicy returns bucket's compiled policy, nil when it has none;
// cached like principals.
func (i *Identities) BucketPolicy(ctx context.Context, bucket string) (*policy.Policy, error) {
	if i.store == nil {
		return nil, nil
	}
	i.mu.Lock()
	p, ok := i.buckets[bucket]
	gen := i.gen
	i.mu.Unlock()
	if ok {
		return p, nil
	}
	doc, err := i.GetBucketPolicy(ctx, bucket)
	switch {
	case errors.Is(err, ErrNoSuchBucketPolicy):
		p = nil
	case err != nil:
		return nil, err
	default:
		if p, err = policy.ParseBucketPolicy(doc, bucket); err != nil {
			i.log.Error("iam: a stored bucket policy does not parse; it grants nothing", "bucket", bucket, "err", err)
			p = nil
		}
	}
	i.mu.Lock()
	if i.gen == gen {
		i.buckets[bucket] = p
	}
	i.mu.Unlock()
	return p, nil
}

// IsPublic reports whether a bucket policy allows anonymous callers
// something without conditions (GetBucketPolicyStatus).
func IsPublic(p *policy.Policy) bool {
	return p != nil && p.Public()
}
