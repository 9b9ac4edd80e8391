package gateway

import (
	"encoding/xml"
	"net/http"

	"cairn/internal/s3/s3err"
)

// Versioning is never enabled on a cairn bucket yet, so every object has
// exactly one version, "null", the latest; ListObjectVersions lists them
// with ListObjects' order, prefixes and delimiters. S3 tools clean up with
// it (boto3's object_versions.delete(), mc rm --versions, rclone
// --s3-versions) even on buckets that never had versioning.

type listVersionsResult struct {
	XMLName             xml.Name      `xml:"ListVersionsResult"`
	NS                  string        `xml:"xmlns,attr"`
	Name                string        `xml:"Name"`
	Prefix              string        `xml:"Prefix"`
	KeyMarker           string        `xml:"KeyMarker"`
	VersionIDMarker     string        `xml:"VersionIdMarker"`
	NextKeyMarker       string        `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string        `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int           `xml:"MaxKeys"`
	Delimiter           string        `xml:"Delimiter,omitempty"`
	EncodingType        string        `xml:"EncodingType,omitempty"`
	IsTruncated         bool          `xml:"IsTruncated"`
	Versions            []versionElem `xml:"Version"`
	CommonPrefixes      []prefixElem  `xml:"CommonPrefixes"`
}

type versionElem struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        owner  `xml:"Owner"`
}

func (q *request) listObjectVersions() error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	v := q.r.URL.Query()
	keyMarker, idMarker := v.Get("key-marker"), v.Get("version-id-marker")
	switch {
	case idMarker != "" && keyMarker == "":
		return s3err.Newf(s3err.InvalidArgument, "A version-id marker cannot be specified without a key marker.")
	case idMarker != "" && idMarker != "null":
		return s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
	}
	// An object's only version is "null": after (key-marker, null), or
	// after key-marker alone, the listing resumes after that key.
	lr, err := q.list(p, keyMarker, true)
	if err != nil {
		return err
	}
	res := listVersionsResult{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: idMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delim), EncodingType: p.encoding, IsTruncated: lr.IsTruncated,
		Versions: []versionElem{}, CommonPrefixes: []prefixElem{}}
	for _, o := range lr.Objects {
		res.Versions = append(res.Versions, versionElem{Key: p.enc(o.Key), VersionID: "null", IsLatest: true, LastModified: isoTime(o.ModTime),
			ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD", Owner: uidOwner(o.OwnerUID)})
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: p.enc(cp)})
	}
	if lr.IsTruncated {
		next := lr.NextMarker
		if next == "" && len(lr.Objects) > 0 {
			next = lr.Objects[len(lr.Objects)-1].Key
		}
		res.NextKeyMarker = p.enc(next)
		if len(lr.Objects) > 0 && lr.Objects[len(lr.Objects)-1].Key == next {
			res.NextVersionIDMarker = "null"
		}
	}
	return q.writeXML(http.StatusOK, res)
}
