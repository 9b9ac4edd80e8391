package gateway

import (
	"encoding/json"
	"net/http"

	"cairn/internal/s3/s3err"
)

// Bucket quotas over S3, in MyFSIO's form: PUT /bucket?quota with a JSON
// document {"max_size_bytes": N, "max_objects": M} (either may be left
// out: no limit), GET answers it with the usage, DELETE removes it. They
// need the admin actions admin:SetBucketQuota and admin:GetBucketQuota
// (MyFSIO's "quota"). MinIO's admin call (mc quota) is adminapi's.

type quotaDoc struct {
	Quota struct {
		MaxSizeBytes *uint64 `json:"max_size_bytes"`
		MaxObjects   *uint64 `json:"max_objects"`
	} `json:"quota"`
	Usage struct {
		Bytes   uint64 `json:"bytes"`
		Objects uint64 `json:"objects"`
	} `json:"usage"`
}

func (q *request) getBucketQuota() (*response, error) {
	bq, err := q.g.opt.Backend.GetBucketQuota(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	var d quotaDoc
	if bq.MaxBytes > 0 {
		d.Quota.MaxSizeBytes = &bq.MaxBytes
	}
	if bq.MaxObjects > 0 {
		d.Quota.MaxObjects = &bq.MaxObjects
	}
	d.Usage.Bytes, d.Usage.Objects = bq.UsedBytes, bq.UsedObjects
	out, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return rawResponse("application/json", out), nil
}

func (q *request) putBucketQuota() (*response, error) {
	body, err := q.readBody(16 << 10)
	if err != nil {
		return nil, err
	}
	var in struct {
		MaxSizeBytes *uint64 `json:"max_size_bytes"`
		MaxObjects   *uint64 `json:"max_objects"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, s3err.Newf(s3err.InvalidArgument, "Request body must be valid JSON")
	}
	var maxBytes, maxObjects uint64
	if in.MaxSizeBytes != nil {
		maxBytes = *in.MaxSizeBytes
	}
	if in.MaxObjects != nil {
		maxObjects = *in.MaxObjects
	}
	if maxBytes == 0 && maxObjects == 0 {
		return nil, s3err.Newf(s3err.InvalidArgument, "At least one of max_size_bytes or max_objects is required")
	}
	if err := q.g.opt.Backend.SetBucketQuota(q.ctx, q.bucket, maxBytes, maxObjects); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) deleteBucketQuota() (*response, error) {
	if _, err := q.g.opt.Backend.GetBucketQuota(q.ctx, q.bucket); err != nil {
		return nil, err
	}
	if err := q.g.opt.Backend.SetBucketQuota(q.ctx, q.bucket, 0, 0); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}
