package gateway

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
)

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	NS      string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		AssumedRoleUser struct {
			Arn           string
			AssumedRoleID string `xml:"AssumedRoleId"`
		}
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// assumeRole is STS's AssumeRole: temporary credentials of the caller,
// for DurationSeconds (900 to 43,200; default 3,600), bounded by the
// Policy given. RoleArn and RoleSessionName are accepted and not used.
func (q *request) assumeRole() (*response, error) {
	if q.principal == nil {
		return q.stsFail(http.StatusForbidden, "AccessDenied", "AssumeRole needs a signed request.")
	}
	b, err := io.ReadAll(io.LimitReader(q.r.Body, 64<<10+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<10 {
		return q.stsFail(http.StatusBadRequest, "InvalidParameterValue", "The request body is too large.")
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return q.stsFail(http.StatusBadRequest, "InvalidParameterValue", "The request body is not a form.")
	}
	switch {
	case form.Get("Action") != "AssumeRole":
		return q.stsFail(http.StatusBadRequest, "InvalidAction", "cairn's STS endpoint serves AssumeRole only.")
	case form.Get("Version") != "2011-06-15":
		return q.stsFail(http.StatusBadRequest, "InvalidParameterValue", "Version must be 2011-06-15.")
	}
	var d time.Duration
	if s := form.Get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < int(iam.MinSessionDuration.Seconds()) || n > int(iam.MaxSessionDuration.Seconds()) {
			return q.stsFail(http.StatusBadRequest, "ValidationError", "DurationSeconds must be between 900 and 43200.")
		}
		d = time.Duration(n) * time.Second
	}
	var narrow []byte
	if s := form.Get("Policy"); s != "" {
		narrow = []byte(s)
	}
	sc, err := q.g.opt.Identity.AssumeRole(q.ctx, q.principal, d, narrow)
	var pe *policy.Error
	switch {
	case errors.As(err, &pe):
		return q.stsFail(http.StatusBadRequest, "MalformedPolicyDocument", pe.Error())
	case errors.Is(err, iam.ErrInvalid):
		return q.stsFail(http.StatusBadRequest, "ValidationError", err.Error())
	case errors.Is(err, iam.ErrAccessDenied):
		return q.stsFail(http.StatusForbidden, "AccessDenied", err.Error())
	case err != nil:
		return nil, err
	}
	var res assumeRoleResponse
	res.NS = stsNS
	c := &res.Result.Credentials
	c.AccessKeyID, c.SecretAccessKey, c.SessionToken = sc.AccessKey, sc.SecretKey, sc.SessionToken
	c.Expiration = sc.Expiration.UTC().Format(time.RFC3339)
	res.Result.AssumedRoleUser.Arn = q.principal.ARN()
	res.Result.AssumedRoleUser.AssumedRoleID = sc.AccessKey
	res.RequestID = q.id
	return xmlResponse(res), nil
}

// stsFail answers an STS error in STS's own format (an answer, not an
// error: q.fail would write S3's).
func (q *request) stsFail(status int, code, msg string) (*response, error) {
	var e stsErrorResponse
	e.NS, e.Error.Type, e.Error.Code, e.Error.Message, e.RequestID = stsNS, "Sender", code, msg, q.id
	return &response{status: status, xml: e}, nil
}
