package gateway

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// Lifecycle configuration: the XML of Put/GetBucketLifecycleConfiguration
// mapped onto s3fs.LifecycleRule, keeping which elements a rule had, and
// the x-amz-expiration header of PUT, GET and HEAD.

type lifecycleConfiguration struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration"`
	NS      string          `xml:"xmlns,attr,omitempty"`
	Rules   []lifecycleRule `xml:"Rule"`
}

type lifecycleRule struct {
	ID                          *string              `xml:"ID,omitempty"`
	Prefix                      *string              `xml:"Prefix,omitempty"`
	Filter                      *lifecycleFilter     `xml:"Filter,omitempty"`
	Status                      string               `xml:"Status"`
	Expiration                  *lifecycleExpiration `xml:"Expiration,omitempty"`
	NoncurrentVersionExpiration *struct {
		NoncurrentDays          *int `xml:"NoncurrentDays,omitempty"`
		NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions,omitempty"`
	} `xml:"NoncurrentVersionExpiration,omitempty"`
	AbortIncompleteMultipartUpload *struct {
		DaysAfterInitiation *int `xml:"DaysAfterInitiation,omitempty"`
	} `xml:"AbortIncompleteMultipartUpload,omitempty"`
	Transitions           []lifecycleTransition `xml:"Transition,omitempty"`
	NoncurrentTransitions []lifecycleTransition `xml:"NoncurrentVersionTransition,omitempty"`
}

type lifecycleTransition struct {
	Date         string `xml:"Date,omitempty"`
	Days         *int   `xml:"Days,omitempty"`
	StorageClass string `xml:"StorageClass,omitempty"`
}

type lifecycleFilter struct {
	Prefix                *string       `xml:"Prefix,omitempty"`
	Tag                   *tagElem      `xml:"Tag,omitempty"`
	ObjectSizeGreaterThan *int64        `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64        `xml:"ObjectSizeLessThan,omitempty"`
	And                   *lifecycleAnd `xml:"And,omitempty"`
}

type lifecycleAnd struct {
	Prefix                *string   `xml:"Prefix,omitempty"`
	Tags                  []tagElem `xml:"Tag,omitempty"`
	ObjectSizeGreaterThan *int64    `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64    `xml:"ObjectSizeLessThan,omitempty"`
}

type lifecycleExpiration struct {
	Days                      *int    `xml:"Days,omitempty"`
	Date                      *string `xml:"Date,omitempty"`
	ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker,omitempty"`
}

func parseLifecycleDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func tagsIn(ts []tagElem) []s3fs.Tag {
	out := make([]s3fs.Tag, len(ts))
	for i, t := range ts {
		out[i] = s3fs.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func tagsOutElems(ts []s3fs.Tag) []tagElem {
	out := make([]tagElem, len(ts))
	for i, t := range ts {
		out[i] = tagElem{Key: t.Key, Value: t.Value}
	}
	return out
}

// toRules converts the XML rules, answering what AWS answers for the
// forms it refuses.
func (c lifecycleConfiguration) toRules() ([]s3fs.LifecycleRule, error) {
	rules := make([]s3fs.LifecycleRule, 0, len(c.Rules))
	for _, x := range c.Rules {
		if x.Status != "Enabled" && x.Status != "Disabled" {
			return nil, s3err.New(s3err.MalformedXML)
		}
		for _, t := range append(append([]lifecycleTransition{}, x.Transitions...), x.NoncurrentTransitions...) {
			if t.Date != "" {
				if _, ok := parseLifecycleDate(t.Date); !ok {
					return nil, s3err.Newf(s3err.InvalidArgument, "'Date' must be at midnight GMT")
				}
			}
		}
		if len(x.Transitions) > 0 || len(x.NoncurrentTransitions) > 0 {
			return nil, s3err.Newf(s3err.NotImplemented, "Transitions to other storage classes are not supported: cairn has one storage class.")
		}
		r := s3fs.LifecycleRule{Status: x.Status, Prefix: x.Prefix}
		if x.ID != nil {
			r.ID = *x.ID
		}
		if f := x.Filter; f != nil {
			r.Filter = &s3fs.LifecycleFilter{Prefix: f.Prefix, ObjectSizeGreaterThan: f.ObjectSizeGreaterThan, ObjectSizeLessThan: f.ObjectSizeLessThan}
			if f.Tag != nil {
				r.Filter.Tag = &s3fs.Tag{Key: f.Tag.Key, Value: f.Tag.Value}
			}
			if a := f.And; a != nil {
				r.Filter.And = &s3fs.LifecycleAnd{Prefix: a.Prefix, Tags: tagsIn(a.Tags), ObjectSizeGreaterThan: a.ObjectSizeGreaterThan, ObjectSizeLessThan: a.ObjectSizeLessThan}
			}
		}
		if e := x.Expiration; e != nil {
			r.Expiration = &s3fs.LifecycleExpiration{Days: e.Days, ExpiredObjectDeleteMarker: e.ExpiredObjectDeleteMarker}
			if e.Date != nil {
				t, ok := parseLifecycleDate(*e.Date)
				if !ok {
					return nil, s3err.Newf(s3err.InvalidArgument, "'Date' must be at midnight GMT")
				}
				r.Expiration.Date = &t
			}
		}
		if e := x.NoncurrentVersionExpiration; e != nil {
			r.NoncurrentVersionExpiration = &s3fs.NoncurrentExpiration{NoncurrentDays: e.NoncurrentDays, NewerNoncurrentVersions: e.NewerNoncurrentVersions}
		}
		if a := x.AbortIncompleteMultipartUpload; a != nil {
			r.AbortIncompleteMultipartUpload = &s3fs.AbortIncomplete{DaysAfterInitiation: a.DaysAfterInitiation}
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func lifecycleOut(rules []s3fs.LifecycleRule) lifecycleConfiguration {
	out := lifecycleConfiguration{NS: s3NS}
	for _, r := range rules {
		x := lifecycleRule{Status: r.Status, Prefix: r.Prefix}
		if r.ID != "" {
			id := r.ID
			x.ID = &id
		}
		if f := r.Filter; f != nil {
			x.Filter = &lifecycleFilter{Prefix: f.Prefix, ObjectSizeGreaterThan: f.ObjectSizeGreaterThan, ObjectSizeLessThan: f.ObjectSizeLessThan}
			if f.Tag != nil {
				x.Filter.Tag = &tagElem{Key: f.Tag.Key, Value: f.Tag.Value}
			}
			if a := f.And; a != nil {
				x.Filter.And = &lifecycleAnd{Prefix: a.Prefix, Tags: tagsOutElems(a.Tags), ObjectSizeGreaterThan: a.ObjectSizeGreaterThan, ObjectSizeLessThan: a.ObjectSizeLessThan}
			}
		}
		if e := r.Expiration; e != nil {
			x.Expiration = &lifecycleExpiration{Days: e.Days, ExpiredObjectDeleteMarker: e.ExpiredObjectDeleteMarker}
			if e.Date != nil {
				d := e.Date.UTC().Format("2006-01-02T15:04:05.000Z")
				x.Expiration.Date = &d
			}
		}
		if e := r.NoncurrentVersionExpiration; e != nil {
			x.NoncurrentVersionExpiration = &struct {
				NoncurrentDays          *int `xml:"NoncurrentDays,omitempty"`
				NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions,omitempty"`
			}{e.NoncurrentDays, e.NewerNoncurrentVersions}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			x.AbortIncompleteMultipartUpload = &struct {
				DaysAfterInitiation *int `xml:"DaysAfterInitiation,omitempty"`
			}{a.DaysAfterInitiation}
		}
		out.Rules = append(out.Rules, x)
	}
	return out
}

func (q *request) getBucketLifecycle() (*response, error) {
	rules, err := q.g.opt.Backend.GetBucketLifecycle(q.ctx, q.cred, q.bucket)
	if err != nil {
		return nil, err
	}
	return xmlResponse(lifecycleOut(rules)), nil
}

func (q *request) putBucketLifecycle() (*response, error) {
	var in lifecycleConfiguration
	if err := q.readXML(1<<20, &in); err != nil {
		return nil, err
	}
	rules, err := in.toRules()
	if err != nil {
		return nil, err
	}
	if err := q.g.opt.Backend.PutBucketLifecycle(q.ctx, q.cred, q.bucket, rules); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) deleteBucketLifecycle() (*response, error) {
	if err := q.g.opt.Backend.DeleteBucketLifecycle(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

// expirationHeader sets x-amz-expiration in h when a lifecycle rule will
// expire the object.
func (q *request) expirationHeader(h http.Header, oi s3fs.ObjectInfo) {
	if oi.Key == "" || strings.HasSuffix(oi.Key, "/") {
		return
	}
	t, id := q.g.opt.Backend.ExpirationOf(q.ctx, q.bucket, oi)
	if t.IsZero() {
		return
	}
	h.Set("x-amz-expiration", `expiry-date="`+t.UTC().Format(http.TimeFormat)+`", rule-id="`+strings.ReplaceAll(id, `"`, `\"`)+`"`)
}
