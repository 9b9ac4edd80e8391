package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// adminPrefix is where the gateway serves its admin API.
const adminPrefix = "/minio/admin/v3/"

// An adminError is an answer of the admin API that is an error.
type adminError struct {
	status        int
	Code, Message string
}

func (e *adminError) Error() string { return e.Message + " (" + e.Code + ")" }

// admin calls the gateway's admin API as the session's user: a request
// signed like any other, so it may do what that user may.
func (c *Console) admin(ctx context.Context, se *session, method, path string, q url.Values, body []byte, out any) error {
	u := c.opt.Endpoint + adminPrefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: se.accessKey, SecretAccessKey: se.secretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, "s3", c.opt.Region, c.opt.Now()); err != nil {
		return err
	}
	res, err := c.opt.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		ae := &adminError{status: res.StatusCode}
		if json.Unmarshal(data, ae) != nil || ae.Code == "" {
			ae.Code, ae.Message = strconv.Itoa(res.StatusCode), strings.TrimSpace(string(data))
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin API %s: %w", path, err)
		}
	}
	return nil
}

// quota is a bucket's quota and use, as the admin API reports them.
type quota struct {
	Quota       uint64 `json:"quota"`
	Objects     uint64 `json:"objects"`
	UsedBytes   uint64 `json:"used_bytes"`
	UsedObjects uint64 `json:"used_objects"`
}

func (c *Console) bucketQuota(ctx context.Context, se *session, bucket string) (quota, error) {
	var q quota
	err := c.admin(ctx, se, http.MethodGet, "get-bucket-quota", url.Values{"bucket": {bucket}}, nil, &q)
	return q, err
}

func loadQuota(c *Console, k *call, bucket string, data map[string]any) error {
	q, err := c.bucketQuota(k.r.Context(), k.se, bucket)
	if ae, ok := err.(*adminError); ok && (ae.status == http.StatusForbidden || ae.status == http.StatusNotImplemented) {
		return errHidden
	}
	if ae, ok := err.(*adminError); ok && ae.Code == "XMinioAdminNoSuchQuotaConfiguration" {
		data["NoQuota"], err = true, nil
	}
	if err != nil {
		return err
	}
	data["Quota"] = q
	data["QuotaMiB"] = ""
	if q.Quota > 0 {
		data["QuotaMiB"] = strconv.FormatUint(q.Quota>>20, 10)
	}
	data["QuotaObjects"] = ""
	if q.Objects > 0 {
		data["QuotaObjects"] = strconv.FormatUint(q.Objects, 10)
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
	objects, err := parse("objects")
	if err != nil {
		return err
	}
	doc := map[string]any{"quota": mib << 20, "size": mib << 20, "objects": objects}
	if mib > 0 || objects > 0 {
		doc["quotatype"] = "hard"
	}
	body, _ := json.Marshal(doc)
	return c.admin(k.r.Context(), k.se, http.MethodPut, "set-bucket-quota", url.Values{"bucket": {bucket}}, body, nil)
}
