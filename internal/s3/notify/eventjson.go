package notify

import (
	"strconv"

	"cairn/internal/meta"
)

// appendJSON appends rec as encoding/json would encode it.
func (rec *Record) appendJSON(b []byte) []byte {
	b = append(b, `{"eventVersion":`...)
	b = meta.AppendJSONString(b, rec.EventVersion)
	b = append(b, `,"eventSource":`...)
	b = meta.AppendJSONString(b, rec.EventSource)
	b = append(b, `,"awsRegion":`...)
	b = meta.AppendJSONString(b, rec.AWSRegion)
	b = append(b, `,"eventTime":`...)
	b = meta.AppendJSONString(b, rec.EventTime)
	b = append(b, `,"eventName":`...)
	b = meta.AppendJSONString(b, rec.EventName)
	b = append(b, `,"userIdentity":{"principalId":`...)
	b = meta.AppendJSONString(b, rec.UserIdentity.PrincipalID)
	b = append(b, `},"requestParameters":{"sourceIPAddress":`...)
	b = meta.AppendJSONString(b, rec.RequestParameters.SourceIPAddress)
	b = append(b, `},"responseElements":{"x-amz-id-2":`...)
	b = meta.AppendJSONString(b, rec.ResponseElements.ID2)
	b = append(b, `,"x-amz-request-id":`...)
	b = meta.AppendJSONString(b, rec.ResponseElements.RequestID)
	s := &rec.S3
	b = append(b, `},"s3":{"s3SchemaVersion":`...)
	b = meta.AppendJSONString(b, s.SchemaVersion)
	b = append(b, `,"configurationId":`...)
	b = meta.AppendJSONString(b, s.ConfigurationID)
	b = append(b, `,"bucket":{"name":`...)
	b = meta.AppendJSONString(b, s.Bucket.Name)
	b = append(b, `,"ownerIdentity":{"principalId":`...)
	b = meta.AppendJSONString(b, s.Bucket.OwnerIdentity.PrincipalID)
	b = append(b, `},"arn":`...)
	b = meta.AppendJSONString(b, s.Bucket.ARN)
	o := &s.Object
	b = append(b, `},"object":{"key":`...)
	b = meta.AppendJSONString(b, o.Key)
	if o.Size != 0 {
		b = strconv.AppendInt(append(b, `,"size":`...), o.Size, 10)
	}
	if o.ETag != "" {
		b = meta.AppendJSONString(append(b, `,"eTag":`...), o.ETag)
	}
	if o.VersionID != "" {
		b = meta.AppendJSONString(append(b, `,"versionId":`...), o.VersionID)
	}
	b = meta.AppendJSONString(append(b, `,"sequencer":`...), o.Sequencer)
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
			b = meta.AppendJSONString(b, src.Host)
		}
		if src.UserAgent != "" {
			field("userAgent")
			b = meta.AppendJSONString(b, src.UserAgent)
		}
		if src.Agent != "" {
			field("agent")
			b = meta.AppendJSONString(b, src.Agent)
		}
		if src.Session != 0 {
			field("session")
			b = strconv.AppendUint(b, src.Session, 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}
