package gateway

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"unicode/utf8"
)

// A listing page of 1,000 keys is most of what a big listing's server side
// spends outside the metadata engine when encoded with encoding/xml's
// reflection. appendListXML writes what xml.Marshal writes for a
// listBucketResult (a test compares the two on random pages), directly,
// but for one thing: quotes in text are written as they are, not as
// character references. XML needs no escaping of " or ' outside attribute
// values, and every listed ETag holds two quotes: a client that decodes
// with encoding/xml (minio-go, the Go SDK) spent a third of its time per
// page on those references.

// appendXML is writeXML's fast path for listings.
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
		b = append(b, "<KeyCount>"...)
		b = strconv.AppendInt(b, int64(*r.KeyCount), 10)
		b = append(b, "</KeyCount>"...)
	}
	b = append(b, "<MaxKeys>"...)
	b = strconv.AppendInt(b, int64(r.MaxKeys), 10)
	b = append(b, "</MaxKeys>"...)
	b = appendElemOmit(b, "Delimiter", r.Delimiter)
	b = appendElemOmit(b, "EncodingType", r.EncodingType)
	b = append(b, "<IsTruncated>"...)
	b = strconv.AppendBool(b, r.IsTruncated)
	b = append(b, "</IsTruncated>"...)
	for i := range r.Contents {
		o := &r.Contents[i]
		b = append(b, "<Contents>"...)
		b = appendElem(b, "Key", o.Key)
		b = appendElem(b, "LastModified", o.LastModified)
		b = appendElem(b, "ETag", o.ETag)
		b = append(b, "<Size>"...)
		b = strconv.AppendInt(b, o.Size, 10)
		b = append(b, "</Size>"...)
		b = appendElem(b, "StorageClass", o.StorageClass)
		if o.Owner != nil {
			b = append(b, "<Owner>"...)
			b = appendElem(b, "ID", o.Owner.ID)
			b = appendElem(b, "DisplayName", o.Owner.DisplayName)
			b = append(b, "</Owner>"...)
		}
		b = append(b, "</Contents>"...)
	}
	for _, p := range r.CommonPrefixes {
		b = append(b, "<CommonPrefixes>"...)
		b = appendElem(b, "Prefix", p.Prefix)
		b = append(b, "</CommonPrefixes>"...)
	}
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

func appendElemOmit(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendElem(b, name, v)
}

// appendEscaped appends v escaped as text, as xml.EscapeText does but
// with quotes kept: printable ASCII with &, < and > and tab, newline and
// carriage return as EscapeText writes them, anything else through
// encoding/xml.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			xml.EscapeText(&buf, []byte(v))
			// EscapeText writes & as &amp;, so a reference it did not
			// write cannot appear.
			esc := bytes.ReplaceAll(buf.Bytes(), []byte("&#34;"), []byte(`"`))
			return append(b, bytes.ReplaceAll(esc, []byte("&#39;"), []byte("'"))...)
		}
	}
	start := 0
	for i := 0; i < len(v); i++ {
		var esc string
		switch v[i] {
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
