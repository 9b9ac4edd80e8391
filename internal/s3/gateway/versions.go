package gateway

import (
	"encoding/xml"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// ListObjectVersions lists every version of every key, newest first
// within a key, with delete markers; on a bucket that never had
// versioning, each object's one version, "null". S3 tools clean up with
// it (boto3's object_versions.delete(), mc rm --versions, rclone
// --s3-versions) even on buckets that never had versioning.

type listVersionsResult struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	NS                  string   `xml:"xmlns,attr"`
	Name                string   `xml:"Name"`
	Prefix              string   `xml:"Prefix"`
	KeyMarker           string   `xml:"KeyMarker"`
	VersionIDMarker     string   `xml:"VersionIdMarker"`
	NextKeyMarker       string   `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string   `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int      `xml:"MaxKeys"`
	Delimiter           string   `xml:"Delimiter,omitempty"`
	EncodingType        string   `xml:"EncodingType,omitempty"`
	IsTruncated         bool     `xml:"IsTruncated"`
	// Entries are versionElem and deleteMarkerElem values in listing
	// order (key, then newest first), as S3 interleaves them.
	Entries        []any        `xml:",any"`
	CommonPrefixes []prefixElem `xml:"CommonPrefixes"`
}

type deleteMarkerElem struct {
	XMLName      xml.Name `xml:"DeleteMarker"`
	Key          string   `xml:"Key"`
	VersionID    string   `xml:"VersionId"`
	IsLatest     bool     `xml:"IsLatest"`
	LastModified string   `xml:"LastModified"`
	Owner        owner    `xml:"Owner"`
}

type versionElem struct {
	XMLName      xml.Name `xml:"Version"`
	Key          string   `xml:"Key"`
	VersionID    string   `xml:"VersionId"`
	IsLatest     bool     `xml:"IsLatest"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Size         int64    `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        owner    `xml:"Owner"`
}

func (q *request) listObjectVersions() (*response, error) {
	p, err := q.listParams()
	if err != nil {
		return nil, err
	}
	v := q.r.URL.Query()
	keyMarker, idMarker := v.Get("key-marker"), v.Get("version-id-marker")
	switch {
	case idMarker != "" && keyMarker == "":
		return nil, s3err.Newf(s3err.InvalidArgument, "A version-id marker cannot be specified without a key marker.")
	case idMarker != "" && !s3fs.ValidVersionID(idMarker):
		return nil, s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
	}
	res := listVersionsResult{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: idMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delim), EncodingType: p.encoding}
	if p.maxKeys == 0 {
		if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
			return nil, err
		}
		return xmlResponse(res), nil
	}
	lr, err := q.g.opt.Backend.ListObjectVersions(q.ctx, q.cred, q.bucket, s3fs.ListVersionsOptions{Prefix: p.prefix, Delimiter: p.delim,
		KeyMarker: keyMarker, VersionIDMarker: idMarker, MaxKeys: p.maxKeys})
	if err != nil {
		return nil, err
	}
	res.IsTruncated = lr.IsTruncated
	for _, o := range lr.Versions {
		vid := o.VersionID
		if vid == "" {
			vid = s3fs.NullVersion
		}
		if o.IsDeleteMarker {
			res.Entries = append(res.Entries, deleteMarkerElem{Key: p.enc(o.Key), VersionID: vid, IsLatest: o.IsLatest,
				LastModified: isoTime(o.ModTime), Owner: q.owner(o.OwnerUID)})
			continue
		}
		res.Entries = append(res.Entries, versionElem{Key: p.enc(o.Key), VersionID: vid, IsLatest: o.IsLatest, LastModified: isoTime(o.ModTime),
			ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD", Owner: q.owner(o.OwnerUID)})
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: p.enc(cp)})
	}
	if lr.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = p.enc(lr.NextKeyMarker), lr.NextVersionIDMarker
	}
	return xmlResponse(res), nil
}
