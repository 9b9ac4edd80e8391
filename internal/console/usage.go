package console

import (
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// usageLimit is the most objects a bucket's usage counts before it says
// "at least".
const usageLimit = 1_000_000

// usageTTL is how long a bucket's counted usage is reused.
const usageTTL = time.Minute

// A usage is a bucket's size and object count, as its listing shows them
// to the user who asks.
type usage struct {
	Bytes   int64     `json:"bytes"`
	Objects int64     `json:"objects"`
	AtLeast bool      `json:"atLeast,omitempty"` // stopped counting at usageLimit
	At      time.Time `json:"at"`
}

// usageCache keeps counted usages per access key and bucket (what a user
// may list differs between users).
type usageCache struct {
	mu sync.Mutex
	m  map[[2]string]usage
}

// usageAPI counts a bucket's objects and bytes by listing it, as the
// user: the bucket list fills these in after it is shown.
func (c *Console) usageAPI(k *call) error {
	bucket := k.r.FormValue("bucket")
	if err := checkName(bucket, ""); err != nil {
		return err
	}
	key := [2]string{k.se.accessKey, bucket}
	now := c.opt.Now()
	c.usage.mu.Lock()
	u, ok := c.usage.m[key]
	c.usage.mu.Unlock()
	if !ok || now.Sub(u.At) > usageTTL {
		u = usage{At: now}
		p := s3.NewListObjectsV2Paginator(k.se.s3, &s3.ListObjectsV2Input{Bucket: &bucket, MaxKeys: aws.Int32(1000)})
		for p.HasMorePages() && !u.AtLeast {
			page, err := p.NextPage(k.r.Context())
			if err != nil {
				return err
			}
			for _, o := range page.Contents {
				u.Bytes += aws.ToInt64(o.Size)
				u.Objects++
			}
			u.AtLeast = u.Objects >= usageLimit && p.HasMorePages()
		}
		c.usage.mu.Lock()
		if c.usage.m == nil {
			c.usage.m = map[[2]string]usage{}
		}
		c.usage.m[key] = u
		c.usage.mu.Unlock()
	}
	writeJSON(k.w, http.StatusOK, u)
	return nil
}
