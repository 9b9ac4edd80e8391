package gateway

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"unicode/utf8"
)

// A listing page of 1,000 keys is most of what a big listing's server side
// spends outside the metadata engine when encoded with encoding/xml's
// reflection. appendListXML writes exactly what xml.Marshal writes for a
// listBucketResult (a test compares the two on random pages), directly.

// appendXML is marshalXML's fast path for listings.
func (r *listBucketResult) appendXML(b []byte) []byte {
	b = append(b, `<ListBucketResult xmlns="`...)
	b = appendEscaped(b, r.NS)
	b = append(b, `">`...)
	b = appendElem(b, "Name", r.Name)
	b = appendElem(b, "Prefix", r.Prefix)
	if r.Marker != nil {
		b = appendElem(b, "Marker", *r.Marker)
	}
	b = appendElemOmit(b, "NextMarker", r.NextMarker)
	b = appendElemOmit(b, "StartAfter", r.StartAfter)
	b = appendElemOmit(b, "ContinuationToken", r.ContinuationToken)
	b = appendElemOmit(b, "NextContinuationToken", r.NextContinuationToken)
	if r.KeyCount != nil {
		b = appendIntElem(b, "KeyCount", int64(*r.KeyCount))
	}
	b = appendIntElem(b, "MaxKeys", int64(r.MaxKeys))
	b = appendElemOmit(b, "Delimiter", r.Delimiter)
	b = appendElemOmit(b, "EncodingType", r.EncodingType)
	b = appendBoolElem(b, "IsTruncated", r.IsTruncated)
	for i := range r.Contents {
		o := &r.Contents[i]
		b = append(b, "<Contents>"...)
		b = appendElem(b, "Key", o.Key)
		b = appendElem(b, "LastModified", o.LastModified)
		b = appendElem(b, "ETag", o.ETag)
		b = appendIntElem(b, "Size", o.Size)
		b = appendElem(b, "StorageClass", o.StorageClass)
		if o.Owner != nil {
			b = appendOwner(b, *o.Owner)
		}
		b = append(b, "</Contents>"...)
	}
	b = appendPrefixes(b, r.CommonPrefixes)
	return append(b, "</ListBucketResult>"...)
}

func appendElem(b []byte, name, v string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, v)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

func appendIntElem(b []byte, name string, v int64) []byte {
	b = append(append(append(b, '<'), name...), '>')
	b = strconv.AppendInt(b, v, 10)
	return append(append(append(b, "</"...), name...), '>')
}

func appendBoolElem(b []byte, name string, v bool) []byte {
	b = append(append(append(b, '<'), name...), '>')
	b = strconv.AppendBool(b, v)
	return append(append(append(b, "</"...), name...), '>')
}

func appendPrefixes(b []byte, ps []prefixElem) []byte {
	for _, p := range ps {
		b = append(b, "<CommonPrefixes>"...)
		b = appendElem(b, "Prefix", p.Prefix)
		b = append(b, "</CommonPrefixes>"...)
	}
	return b
}

func appendElemOmit(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendElem(b, name, v)
}

// appendEscaped appends v escaped as xml.EscapeText does: printable ASCII
// with its five specials and tab, newline and carriage return as
// EscapeText writes them (every listed ETag has two quotes), anything
// else through encoding/xml.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			xml.EscapeText(&buf, []byte(v))
			return append(b, buf.Bytes()...)
		}
	}
	start := 0
	for i := 0; i < len(v); i++ {
		var esc string
		switch v[i] {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(append(b, v[start:i]...), esc...)
		start = i + 1
	}
	return append(b, v[start:]...)
}

// appendXML writes what xml.Marshal writes for a listVersionsResult (a
// test compares the two), directly: version listings are as long as
// object listings.
func (r *listVersionsResult) appendXML(b []byte) []byte {
	b = append(b, `<ListVersionsResult xmlns="`...)
	b = appendEscaped(b, r.NS)
	b = append(b, `">`...)
	b = appendElem(b, "Name", r.Name)
	b = appendElem(b, "Prefix", r.Prefix)
	b = appendElem(b, "KeyMarker", r.KeyMarker)
	b = appendElem(b, "VersionIdMarker", r.VersionIDMarker)
	b = appendElemOmit(b, "NextKeyMarker", r.NextKeyMarker)
	b = appendElemOmit(b, "NextVersionIdMarker", r.NextVersionIDMarker)
	b = appendIntElem(b, "MaxKeys", int64(r.MaxKeys))
	b = appendElemOmit(b, "Delimiter", r.Delimiter)
	b = appendElemOmit(b, "EncodingType", r.EncodingType)
	b = appendBoolElem(b, "IsTruncated", r.IsTruncated)
	for _, e := range r.Entries {
		switch v := e.(type) {
		case versionElem:
			b = append(b, "<Version>"...)
			b = appendElem(b, "Key", v.Key)
			b = appendElem(b, "VersionId", v.VersionID)
			b = appendBoolElem(b, "IsLatest", v.IsLatest)
			b = appendElem(b, "LastModified", v.LastModified)
			b = appendElem(b, "ETag", v.ETag)
			b = appendIntElem(b, "Size", v.Size)
			b = appendElem(b, "StorageClass", v.StorageClass)
			b = appendOwner(b, v.Owner)
			b = append(b, "</Version>"...)
		case deleteMarkerElem:
			b = append(b, "<DeleteMarker>"...)
			b = appendElem(b, "Key", v.Key)
			b = appendElem(b, "VersionId", v.VersionID)
			b = appendBoolElem(b, "IsLatest", v.IsLatest)
			b = appendElem(b, "LastModified", v.LastModified)
			b = appendOwner(b, v.Owner)
			b = append(b, "</DeleteMarker>"...)
		}
	}
	b = appendPrefixes(b, r.CommonPrefixes)
	return append(b, "</ListVersionsResult>"...)
}

func appendOwner(b []byte, o owner) []byte {
	b = append(b, "<Owner>"...)
	b = appendElem(b, "ID", o.ID)
	b = appendElem(b, "DisplayName", o.DisplayName)
	return append(b, "</Owner>"...)
}
