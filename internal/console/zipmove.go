package console

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// expand lists the keys that names stands for: a name ending in "/" is a
// folder, everything under it.
func (c *Console) expand(ctx context.Context, cl *s3.Client, bucket string, names []string) ([]string, error) {
	var keys []string
	for _, n := range names {
		if err := checkName(bucket, n); err != nil {
			return nil, err
		}
		if !strings.HasSuffix(n, "/") {
			keys = append(keys, n)
			continue
		}
		p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(n)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, o := range page.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
		}
	}
	return keys, nil
}

// zipDownload streams the selected objects and folders as one ZIP file,
// named below the folder they were chosen in. Objects are stored as they
// are (no compression: most large files are compressed already, and the
// archive streams at the speed of the reads). An object that cannot be
// read once the archive has started is listed in a file ERRORS.txt at its
// end, since the answer's status is sent by then.
func (c *Console) zipDownload(k *call) error {
	r := k.r
	if err := r.ParseForm(); err != nil {
		return badRequest("The request could not be read: %v.", err)
	}
	bucket, prefix := r.PostFormValue("bucket"), r.PostFormValue("prefix")
	names := r.PostForm["key"]
	if len(names) == 0 {
		return badRequest("Select what to download.")
	}
	ctx, cl := r.Context(), k.se.s3
	keys, err := c.expand(ctx, cl, bucket, names)
	if err != nil {
		return err
	}
	base := bucket
	if prefix != "" {
		base = path.Base(strings.TrimSuffix(prefix, "/"))
	}
	h := k.w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base + ".zip"}))
	h.Set("Cache-Control", "no-store")
	zw := zip.NewWriter(k.w)
	var failed []string
	for _, key := range keys {
		name := strings.TrimPrefix(key, prefix)
		if strings.HasSuffix(name, "/") { // a folder's marker object
			continue
		}
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if err != nil {
			_, msg := c.describe(err)
			failed = append(failed, key+": "+msg)
			continue
		}
		fh := &zip.FileHeader{Name: name, Method: zip.Store, Modified: aws.ToTime(out.LastModified)}
		fw, err := zw.CreateHeader(fh)
		if err == nil {
			_, err = io.Copy(fw, out.Body)
		}
		out.Body.Close()
		if err != nil {
			if ctx.Err() != nil {
				return nil // the browser went away
			}
			c.log.Warn("console: ZIP download cut", "bucket", bucket, "key", key, "err", err)
			return nil
		}
	}
	if len(failed) > 0 {
		if fw, err := zw.Create("ERRORS.txt"); err == nil {
			fmt.Fprintf(fw, "These objects could not be read when the archive was made (%s):\n\n%s\n",
				c.opt.Now().UTC().Format(time.RFC3339), strings.Join(failed, "\n"))
		}
	}
	zw.Close()
	return nil
}

// move renames an object or a folder (everything under it) within a
// bucket: each object is copied to its new name by reference (no bytes
// move on a cairn volume) and then deleted at the old one.
func (c *Console) move(k *call) error {
	var req struct{ Bucket, From, To string }
	if err := json.NewDecoder(io.LimitReader(k.r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest("The request could not be read: %v.", err)
	}
	if err := checkName(req.Bucket, req.From); err != nil {
		return err
	}
	if err := checkName(req.Bucket, req.To); err != nil {
		return err
	}
	folder := strings.HasSuffix(req.From, "/")
	switch {
	case req.From == "" || req.To == "" || req.From == req.To:
		return badRequest("Give a new name that differs from the old one.")
	case folder != strings.HasSuffix(req.To, "/"):
		return badRequest("A folder's new name ends with '/', an object's does not.")
	case folder && strings.HasPrefix(req.To, req.From):
		return badRequest("A folder cannot move into itself.")
	}
	ctx, cl := k.r.Context(), k.se.s3
	keys, err := c.expand(ctx, cl, req.Bucket, []string{req.From})
	if err != nil {
		return err
	}
	moved, failed := 0, []deleteFailure{}
	for _, key := range keys {
		to := req.To + strings.TrimPrefix(key, req.From)
		src := url.PathEscape(req.Bucket) + "/" + escapeKey(key)
		if _, err := cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &req.Bucket, Key: aws.String(to), CopySource: aws.String(src)}); err != nil {
			_, msg := c.describe(err)
			failed = append(failed, deleteFailure{Key: key, Message: msg})
			continue
		}
		if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &req.Bucket, Key: aws.String(key)}); err != nil {
			_, msg := c.describe(err)
			failed = append(failed, deleteFailure{Key: key, Message: "copied, but the old name stays: " + msg})
			continue
		}
		moved++
	}
	writeJSON(k.w, http.StatusOK, map[string]any{"moved": moved, "failed": failed})
	return nil
}

// escapeKey percent-encodes a key for x-amz-copy-source, keeping its
// slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// restore makes an earlier version of an object its latest again: the
// version is copied (by reference) onto the key, so every version stays.
func (c *Console) restore(k *call) error {
	var req struct{ Bucket, Key, VersionID string }
	if err := json.NewDecoder(io.LimitReader(k.r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest("The request could not be read: %v.", err)
	}
	if err := checkName(req.Bucket, req.Key); err != nil {
		return err
	}
	if req.Key == "" || req.VersionID == "" {
		return badRequest("Name the object and the version to restore.")
	}
	src := url.PathEscape(req.Bucket) + "/" + escapeKey(req.Key) + "?versionId=" + url.QueryEscape(req.VersionID)
	out, err := k.se.s3.CopyObject(k.r.Context(), &s3.CopyObjectInput{Bucket: &req.Bucket, Key: &req.Key, CopySource: aws.String(src)})
	if err != nil {
		return err
	}
	writeJSON(k.w, http.StatusOK, map[string]any{"versionId": aws.ToString(out.VersionId)})
	return nil
}
