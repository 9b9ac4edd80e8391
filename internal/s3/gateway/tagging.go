package gateway

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// tagging is the body of Put/GetObjectTagging and Put/GetBucketTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  tagSet   `xml:"TagSet"`
}

type tagSet struct {
	Tags []tagElem `xml:"Tag"`
}

type tagElem struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// maxTaggingXML bounds a tagging body: 50 tags of 128 + 256 characters
// of up to 4 bytes each, with the markup.
const maxTaggingXML = 96 << 10

func tagsOut(tags []s3fs.Tag) tagging {
	t := tagging{NS: s3NS, TagSet: tagSet{Tags: make([]tagElem, 0, len(tags))}}
	for _, tg := range tags {
		t.TagSet.Tags = append(t.TagSet.Tags, tagElem(tg))
	}
	return t
}

// readTags decodes a tagging body and checks it against AWS's rules with
// at most max tags.
func (q *request) readTags(max int) ([]s3fs.Tag, error) {
	var t tagging
	if err := q.readXML(maxTaggingXML, &t); err != nil {
		return nil, err
	}
	tags := make([]s3fs.Tag, 0, len(t.TagSet.Tags))
	for _, e := range t.TagSet.Tags {
		tags = append(tags, s3fs.Tag(e))
	}
	return tags, s3fs.ValidateTags(tags, max)
}

// headerTags reads x-amz-tagging: tags as a URL query ("k1=v1&k2=v2").
func headerTags(h http.Header) ([]s3fs.Tag, error) {
	s := h.Get("X-Amz-Tagging")
	if s == "" {
		return nil, nil
	}
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, s3err.Newf(s3err.InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	tags := make([]s3fs.Tag, 0, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, s3err.Newf(s3err.InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		tags = append(tags, s3fs.Tag{Key: k, Value: vs[0]})
	}
	// One order, whatever the map's: by key (as RGW answers them).
	slices.SortFunc(tags, func(a, b s3fs.Tag) int { return strings.Compare(a.Key, b.Key) })
	return tags, s3fs.ValidateTags(tags, s3fs.MaxObjectTags)
}

func (q *request) getObjectTagging() (*response, error) {
	vid := q.versionID()
	tags, err := q.g.opt.Backend.GetObjectTagging(q.ctx, q.cred, q.bucket, q.key, vid)
	if err != nil {
		return nil, err
	}
	res := xmlResponse(tagsOut(tags))
	setVersionHeader(res.hdr(), vid)
	return res, nil
}

func (q *request) putObjectTagging() (*response, error) {
	tags, err := q.readTags(s3fs.MaxObjectTags)
	if err != nil {
		return nil, err
	}
	vid := q.versionID()
	if err := q.g.opt.Backend.PutObjectTagging(q.ctx, q.cred, q.bucket, q.key, vid, tags); err != nil {
		return nil, err
	}
	res := empty(http.StatusOK)
	setVersionHeader(res.hdr(), vid)
	return res, nil
}

func (q *request) deleteObjectTagging() (*response, error) {
	vid := q.versionID()
	if err := q.g.opt.Backend.DeleteObjectTagging(q.ctx, q.cred, q.bucket, q.key, vid); err != nil {
		return nil, err
	}
	res := empty(http.StatusNoContent)
	setVersionHeader(res.hdr(), vid)
	return res, nil
}

func (q *request) getBucketTagging() (*response, error) {
	tags, err := q.g.opt.Backend.GetBucketTagging(q.ctx, q.cred, q.bucket)
	if errors.Is(err, s3fs.ErrNoSuchTagSet) {
		return nil, s3err.Newf(s3err.NoSuchTagSet, "The TagSet does not exist.").With("BucketName", q.bucket)
	}
	if err != nil {
		return nil, err
	}
	return xmlResponse(tagsOut(tags)), nil
}

func (q *request) putBucketTagging() (*response, error) {
	tags, err := q.readTags(s3fs.MaxBucketTags)
	if err != nil {
		return nil, err
	}
	if err := q.g.opt.Backend.PutBucketTagging(q.ctx, q.cred, q.bucket, tags); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

func (q *request) deleteBucketTagging() (*response, error) {
	if err := q.g.opt.Backend.DeleteBucketTagging(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

// setTagCount sets x-amz-tagging-count on GET and HEAD of a tagged
// object.
func setTagCount(h http.Header, n int) {
	if n > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(n))
	}
}
