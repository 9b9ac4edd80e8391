package console

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/adminapi"
)

func loadQuota(c *Console, k *call, bucket string, data map[string]any) error {
	q, err := c.adminClient(k.se).GetBucketQuota(k.r.Context(), bucket)
	if ae := (*adminapi.Error)(nil); errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotImplemented) {
		return errHidden
	}
	if err != nil {
		return err
	}
	data["Quota"], data["NoQuota"] = q, q.MaxBytes == 0 && q.MaxObjects == 0
	data["QuotaMiB"], data["QuotaObjects"] = "", ""
	if q.MaxBytes > 0 {
		data["QuotaMiB"] = strconv.FormatUint(q.MaxBytes>>20, 10)
	}
	if q.MaxObjects > 0 {
		data["QuotaObjects"] = strconv.FormatUint(q.MaxObjects, 10)
	}
	return nil
}

func applyQuota(c *Console, k *call, bucket string) error {
	parse := func(name string) (uint64, error) {
		s := strings.TrimSpace(k.r.PostFormValue(name))
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, badRequest("%q is not a whole number.", s)
		}
		return n, nil
	}
	mib, err := parse("mib")
	if err != nil {
		return err
	}
	if mib > math.MaxUint64>>20 {
		return badRequest("%d MiB is more than can be counted.", mib)
	}
	objects, err := parse("objects")
	if err != nil {
		return err
	}
	return c.adminClient(k.se).SetBucketQuota(k.r.Context(), bucket, mib<<20, objects)
}

// bucketUse is a bucket's size and object count, when the user may see
// them (administrators, through the quota call).
func (c *Console) bucketUse(ctx context.Context, se *session, bucket string) (adminapi.BucketQuota, bool) {
	q, err := c.adminClient(se).GetBucketQuota(ctx, bucket)
	return q, err == nil
}
