package notify

import (
	"strconv"
	"unicode/utf8"
)

// appendJSON appends rec as encoding/json would encode it.
func (rec *Record) appendJSON(b []byte) []byte {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, rec.EventVersion)
	b = append(b, `,"eventSource":`...)
	b = appendString(b, rec.EventSource)
	b = append(b, `,"awsRegion":`...)
	b = appendString(b, rec.AWSRegion)
	b = append(b, `,"eventTime":`...)
	b = appendString(b, rec.EventTime)
	b = append(b, `,"eventName":`...)
	b = appendString(b, rec.EventName)
	b = append(b, `,"userIdentity":{"principalId":`...)
	b = appendString(b, rec.UserIdentity.PrincipalID)
	b = append(b, `},"requestParameters":{"sourceIPAddress":`...)
	b = appendString(b, rec.RequestParameters.SourceIPAddress)
	b = append(b, `},"responseElements":{"x-amz-id-2":`...)
	b = appendString(b, rec.ResponseElements.ID2)
	b = append(b, `,"x-amz-request-id":`...)
	b = appendString(b, rec.ResponseElements.RequestID)
	s := &rec.S3
	b = append(b, `},"s3":{"s3SchemaVersion":`...)
	b = appendString(b, s.SchemaVersion)
	b = append(b, `,"configurationId":`...)
	b = appendString(b, s.ConfigurationID)
	b = append(b, `,"bucket":{"name":`...)
	b = appendString(b, s.Bucket.Name)
	b = append(b, `,"ownerIdentity":{"principalId":`...)
	b = appendString(b, s.Bucket.OwnerIdentity.PrincipalID)
	b = append(b, `},"arn":`...)
	b = appendString(b, s.Bucket.ARN)
	o := &s.Object
	b = append(b, `},"object":{"key":`...)
	b = appendString(b, o.Key)
	if o.Size != 0 {
		b = strconv.AppendInt(append(b, `,"size":`...), o.Size, 10)
	}
	if o.ETag != "" {
		b = appendString(append(b, `,"eTag":`...), o.ETag)
	}
	if o.VersionID != "" {
		b = appendString(append(b, `,"versionId":`...), o.VersionID)
	}
	b = appendString(append(b, `,"sequencer":`...), o.Sequencer)
	b = append(b, '}', '}')
	if src := rec.Source; src != nil {
		b = append(b, `,"source":{`...)
		n := len(b)
		field := func(name string) {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(append(append(b, '"'), name...), '"', ':')
		}
		if src.Host != "" {
			field("host")
			b = appendString(b, src.Host)
		}
		if src.UserAgent != "" {
			field("userAgent")
			b = appendString(b, src.UserAgent)
		}
		if src.Agent != "" {
			field("agent")
			b = appendString(b, src.Agent)
		}
		if src.Session != 0 {
			field("session")
			b = strconv.AppendUint(b, src.Session, 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string the way encoding/json writes
// it: HTML's <, > and & escaped, and each byte of invalid UTF-8 as
// U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
