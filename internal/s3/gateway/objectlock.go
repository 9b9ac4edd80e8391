package gateway

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// Object lock: the bucket configuration, retention and legal hold of
// versions, the x-amz-object-lock-* headers of writes and reads, and the
// governance bypass.

type objectLockConfiguration struct {
	XMLName           xml.Name        `xml:"ObjectLockConfiguration"`
	NS                string          `xml:"xmlns,attr,omitempty"`
	ObjectLockEnabled string          `xml:"ObjectLockEnabled,omitempty"`
	Rule              *objectLockRule `xml:"Rule,omitempty"`
}

type objectLockRule struct {
	DefaultRetention struct {
		Mode  string `xml:"Mode,omitempty"`
		Days  *int   `xml:"Days,omitempty"`
		Years *int   `xml:"Years,omitempty"`
	} `xml:"DefaultRetention"`
}

type retentionXML struct {
	XMLName         xml.Name `xml:"Retention"`
	NS              string   `xml:"xmlns,attr,omitempty"`
	Mode            string   `xml:"Mode,omitempty"`
	RetainUntilDate string   `xml:"RetainUntilDate,omitempty"`
}

type legalHoldXML struct {
	XMLName xml.Name `xml:"LegalHold"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status"`
}

// lockHeaders reads the x-amz-object-lock-* headers of a write.
func lockHeaders(h http.Header, opt *s3fs.PutOptions) error {
	opt.LockMode = h.Get("X-Amz-Object-Lock-Mode")
	opt.LegalHold = h.Get("X-Amz-Object-Lock-Legal-Hold")
	if s := h.Get("X-Amz-Object-Lock-Retain-Until-Date"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return s3err.Newf(s3err.InvalidArgument, "The retain until date must be provided in ISO 8601 format")
		}
		opt.LockUntil = t
	}
	if err := s3fs.CheckLockHeaders(*opt, time.Now()); err != nil {
		return s3err.Newf(s3err.InvalidArgument, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidArgument.Error()+": "))
	}
	return nil
}

// lockResponseHeaders sets the object lock headers of GET, HEAD and PUT
// in h.
func lockResponseHeaders(h http.Header, oi s3fs.ObjectInfo) {
	if oi.LockMode != "" {
		h.Set("x-amz-object-lock-mode", oi.LockMode)
		h.Set("x-amz-object-lock-retain-until-date", oi.LockUntil.UTC().Format(time.RFC3339))
	}
	if oi.LegalHold != "" {
		h.Set("x-amz-object-lock-legal-hold", oi.LegalHold)
	}
}

// bypassGovernance reports whether the request asks to bypass governance
// retention and the caller holds s3:BypassGovernanceRetention.
func (q *request) bypassGovernance() bool {
	if !strings.EqualFold(q.r.Header.Get("X-Amz-Bypass-Governance-Retention"), "true") {
		return false
	}
	res := policy.BucketARN(q.bucket)
	if q.key != "" {
		res = policy.ObjectARN(q.bucket, q.key)
	}
	return q.authorize("s3:BypassGovernanceRetention", res) == nil
}

func (q *request) getObjectLockConfiguration() (*response, error) {
	c, err := q.g.opt.Backend.ObjectLockConfiguration(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	out := objectLockConfiguration{NS: s3NS, ObjectLockEnabled: "Enabled"}
	if c.Mode != "" {
		out.Rule = &objectLockRule{}
		out.Rule.DefaultRetention.Mode = c.Mode
		if c.Days != 0 {
			out.Rule.DefaultRetention.Days = &c.Days
		}
		if c.Years != 0 {
			out.Rule.DefaultRetention.Years = &c.Years
		}
	}
	return xmlResponse(out), nil
}

func (q *request) putObjectLockConfiguration() (*response, error) {
	var in objectLockConfiguration
	if err := q.readXML(64<<10, &in); err != nil {
		return nil, err
	}
	if in.ObjectLockEnabled != "Enabled" {
		return nil, s3err.New(s3err.MalformedXML)
	}
	c := s3fs.ObjectLockConfig{Enabled: true}
	if r := in.Rule; r != nil {
		d := r.DefaultRetention
		if !s3fs.ValidRetentionMode(d.Mode) || d.Days != nil && d.Years != nil || d.Days == nil && d.Years == nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		c.Mode = d.Mode
		if d.Days != nil {
			if *d.Days <= 0 {
				return nil, s3err.Newf(s3err.InvalidRetentionPeriod, "Default retention period must be a positive integer value.")
			}
			c.Days = *d.Days
		}
		if d.Years != nil {
			if *d.Years <= 0 {
				return nil, s3err.Newf(s3err.InvalidRetentionPeriod, "Default retention period must be a positive integer value.")
			}
			c.Years = *d.Years
		}
	}
	if err := q.g.opt.Backend.PutObjectLockConfiguration(q.ctx, q.cred, q.bucket, c); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) getObjectRetention() (*response, error) {
	r, err := q.g.opt.Backend.GetObjectRetention(q.ctx, q.cred, q.bucket, q.key, q.versionID())
	if err != nil {
		return nil, err
	}
	return xmlResponse(retentionXML{NS: s3NS, Mode: r.Mode, RetainUntilDate: r.Until.UTC().Format(time.RFC3339Nano)}), nil
}

func (q *request) putObjectRetention() (*response, error) {
	var in retentionXML
	if err := q.readXML(64<<10, &in); err != nil {
		return nil, err
	}
	r := s3fs.Retention{Mode: in.Mode}
	switch {
	case in.Mode == "" && in.RetainUntilDate == "":
	case !s3fs.ValidRetentionMode(in.Mode) || in.RetainUntilDate == "":
		return nil, s3err.New(s3err.MalformedXML)
	default:
		t, err := time.Parse(time.RFC3339Nano, in.RetainUntilDate)
		if err != nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		r.Until = t
	}
	if err := q.g.opt.Backend.PutObjectRetention(q.ctx, q.cred, q.bucket, q.key, q.versionID(), r, q.bypassGovernance()); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) getObjectLegalHold() (*response, error) {
	on, err := q.g.opt.Backend.GetObjectLegalHold(q.ctx, q.cred, q.bucket, q.key, q.versionID())
	if err != nil {
		return nil, err
	}
	st := "OFF"
	if on {
		st = "ON"
	}
	return xmlResponse(legalHoldXML{NS: s3NS, Status: st}), nil
}

func (q *request) putObjectLegalHold() (*response, error) {
	var in legalHoldXML
	if err := q.readXML(64<<10, &in); err != nil {
		return nil, err
	}
	if in.Status != "ON" && in.Status != "OFF" {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if err := q.g.opt.Backend.PutObjectLegalHold(q.ctx, q.cred, q.bucket, q.key, q.versionID(), in.Status == "ON"); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}
