// Package s3err holds the S3 error codes with their HTTP statuses and
// messages, and the XML error body AWS returns.
package s3err

import (
	"encoding/xml"
	"net/http"
	"strconv"
)

// Code is an S3 error code such as "NoSuchKey".
type Code string

type codeInfo struct {
	status  int
	message string
}

// Error codes cairn returns. The table follows the AWS S3 API reference.
const (
	AccessDenied                         Code = "AccessDenied"
	AuthorizationHeaderMalformed         Code = "AuthorizationHeaderMalformed"
	AuthorizationQueryParametersError    Code = "AuthorizationQueryParametersError"
	BadDigest                            Code = "BadDigest"
	BucketAlreadyExists                  Code = "BucketAlreadyExists"
	BucketAlreadyOwnedByYou              Code = "BucketAlreadyOwnedByYou"
	BucketNotEmpty                       Code = "BucketNotEmpty"
	EntityTooLarge                       Code = "EntityTooLarge"
	EntityTooSmall                       Code = "EntityTooSmall"
	ExpiredToken                         Code = "ExpiredToken"
	IncompleteBody                       Code = "IncompleteBody"
	InternalError                        Code = "InternalError"
	InvalidAccessKeyID                   Code = "InvalidAccessKeyId"
	InvalidArgument                      Code = "InvalidArgument"
	InvalidBucketName                    Code = "InvalidBucketName"
	InvalidToken                         Code = "InvalidToken"
	InvalidURI                           Code = "InvalidURI"
	RequestTimeout                       Code = "RequestTimeout"
	MalformedPolicy                      Code = "MalformedPolicy"
	NoSuchBucketPolicy                   Code = "NoSuchBucketPolicy"
	InvalidDigest                        Code = "InvalidDigest"
	InvalidPart                          Code = "InvalidPart"
	InvalidPartOrder                     Code = "InvalidPartOrder"
	InvalidRange                         Code = "InvalidRange"
	InvalidRequest                       Code = "InvalidRequest"
	InvalidObjectName                    Code = "InvalidObjectName" // not an AWS code; used only in messages
	KeyTooLongError                      Code = "KeyTooLongError"
	MalformedXML                         Code = "MalformedXML"
	MetadataTooLarge                     Code = "MetadataTooLarge"
	MethodNotAllowed                     Code = "MethodNotAllowed"
	MissingContentLength                 Code = "MissingContentLength"
	MissingSecurityHeader                Code = "MissingSecurityHeader"
	NoSuchBucket                         Code = "NoSuchBucket"
	NoSuchKey                            Code = "NoSuchKey"
	NoSuchUpload                         Code = "NoSuchUpload"
	NotImplemented                       Code = "NotImplemented"
	NotModified                          Code = "NotModified"
	PreconditionFailed                   Code = "PreconditionFailed"
	RequestTimeTooSkewed                 Code = "RequestTimeTooSkewed"
	SignatureDoesNotMatch                Code = "SignatureDoesNotMatch"
	XAmzContentSHA256Mismatch            Code = "XAmzContentSHA256Mismatch"
	BadRequest                           Code = "BadRequest"
	RequestHeaderSectionTooLarge         Code = "RequestHeaderSectionTooLarge"
	SlowDown                             Code = "SlowDown"
	ServiceUnavailable                   Code = "ServiceUnavailable"
	InvalidChunkSizeError                Code = "InvalidChunkSizeError"
	KeyConflict                          Code = "XCairnKeyConflict"
	InvalidTag                           Code = "InvalidTag"
	NoSuchTagSet                         Code = "NoSuchTagSet"
	NoSuchVersion                        Code = "NoSuchVersion"
	AccessForbidden                      Code = "AccessForbidden"
	NoSuchCORSConfiguration              Code = "NoSuchCORSConfiguration"
	AccessControlListNotSupported        Code = "AccessControlListNotSupported"
	InvalidBucketAclWithObjectOwnership  Code = "InvalidBucketAclWithObjectOwnership"
	OwnershipControlsNotFound            Code = "OwnershipControlsNotFoundError"
	UnresolvableGrantByEmailAddress      Code = "UnresolvableGrantByEmailAddress"
	MalformedACLError                    Code = "MalformedACLError"
	BucketQuotaExceeded                  Code = "XMinioAdminBucketQuotaExceeded"
	NoSuchPublicAccessBlockConfiguration Code = "NoSuchPublicAccessBlockConfiguration"
	ObjectLockConfigurationNotFound      Code = "ObjectLockConfigurationNotFoundError"
	NoSuchObjectLockConfiguration        Code = "NoSuchObjectLockConfiguration"
	InvalidBucketState                   Code = "InvalidBucketState"
	InvalidRetentionPeriod               Code = "InvalidRetentionPeriod"
	NoSuchLifecycleConfiguration         Code = "NoSuchLifecycleConfiguration"
	MalformedPOSTRequest                 Code = "MalformedPOSTRequest"
	MaxPostPreDataLengthExceeded         Code = "MaxPostPreDataLengthExceededError"
	InvalidPolicyDocument                Code = "InvalidPolicyDocument"
)

var table = map[Code]codeInfo{
	AccessDenied:                         {403, "Access Denied."},
	AuthorizationHeaderMalformed:         {400, "The authorization header is malformed."},
	AuthorizationQueryParametersError:    {400, "Error parsing the X-Amz-Credential parameter."},
	BadDigest:                            {400, "The Content-MD5 you specified did not match what we received."},
	BucketAlreadyExists:                  {409, "The requested bucket name is not available."},
	BucketAlreadyOwnedByYou:              {409, "Your previous request to create the named bucket succeeded and you already own it."},
	BucketNotEmpty:                       {409, "The bucket you tried to delete is not empty."},
	EntityTooLarge:                       {400, "Your proposed upload exceeds the maximum allowed object size."},
	EntityTooSmall:                       {400, "Your proposed upload is smaller than the minimum allowed object size."},
	ExpiredToken:                         {400, "The provided token has expired."},
	IncompleteBody:                       {400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	InternalError:                        {500, "We encountered an internal error. Please try again."},
	InvalidAccessKeyID:                   {403, "The AWS access key ID you provided does not exist in our records."},
	InvalidArgument:                      {400, "Invalid Argument."},
	InvalidBucketName:                    {400, "The specified bucket is not valid."},
	InvalidToken:                         {400, "The provided token is malformed or otherwise invalid."},
	InvalidURI:                           {400, "Couldn't parse the specified URI."},
	RequestTimeout:                       {400, "Your socket connection to the server was not read from or written to within the timeout period."},
	MalformedPolicy:                      {400, "Policy has invalid resource."},
	NoSuchBucketPolicy:                   {404, "The bucket policy does not exist."},
	InvalidDigest:                        {400, "The Content-MD5 you specified is not valid."},
	InvalidPart:                          {400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	InvalidPartOrder:                     {400, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	InvalidRange:                         {416, "The requested range is not satisfiable."},
	InvalidRequest:                       {400, "Invalid Request."},
	KeyTooLongError:                      {400, "Your key is too long."},
	MalformedXML:                         {400, "The XML you provided was not well-formed or did not validate against our published schema."},
	MetadataTooLarge:                     {400, "Your metadata headers exceed the maximum allowed metadata size."},
	MethodNotAllowed:                     {405, "The specified method is not allowed against this resource."},
	MissingContentLength:                 {411, "You must provide the Content-Length HTTP header."},
	MissingSecurityHeader:                {400, "Your request is missing a required header."},
	NoSuchBucket:                         {404, "The specified bucket does not exist."},
	NoSuchKey:                            {404, "The specified key does not exist."},
	NoSuchUpload:                         {404, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."},
	NotImplemented:                       {501, "A header or query you provided implies functionality that is not implemented."},
	NotModified:                          {304, "Not Modified."},
	PreconditionFailed:                   {412, "At least one of the preconditions you specified did not hold."},
	RequestTimeTooSkewed:                 {403, "The difference between the request time and the server's time is too large."},
	SignatureDoesNotMatch:                {403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	XAmzContentSHA256Mismatch:            {400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	BadRequest:                           {400, "Bad Request."},
	RequestHeaderSectionTooLarge:         {400, "Your request header section exceeds the maximum allowed size."},
	SlowDown:                             {503, "Please reduce your request rate."},
	ServiceUnavailable:                   {503, "The service is unavailable. Please retry."},
	InvalidChunkSizeError:                {403, "Only the last chunk is allowed to have a size less than 8192 bytes."},
	KeyConflict:                          {409, "The key cannot be stored: a path segment is both an object and a prefix of another key."},
	InvalidTag:                           {400, "The tag provided was not a valid tag."},
	NoSuchTagSet:                         {404, "The TagSet does not exist."},
	NoSuchVersion:                        {404, "The specified version does not exist."},
	AccessForbidden:                      {403, "CORSResponse: This CORS request is not allowed."},
	NoSuchCORSConfiguration:              {404, "The CORS configuration does not exist."},
	AccessControlListNotSupported:        {400, "The bucket does not allow ACLs."},
	InvalidBucketAclWithObjectOwnership:  {400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting."},
	OwnershipControlsNotFound:            {404, "The bucket ownership controls were not found."},
	UnresolvableGrantByEmailAddress:      {400, "The e-mail address you provided does not match any account on record."},
	MalformedACLError:                    {400, "The XML you provided was not well-formed or did not validate against our published schema."},
	BucketQuotaExceeded:                  {400, "Bucket quota exceeded"},
	NoSuchPublicAccessBlockConfiguration: {404, "The public access block configuration was not found."},
	ObjectLockConfigurationNotFound:      {404, "Object Lock configuration does not exist for this bucket."},
	NoSuchObjectLockConfiguration:        {404, "The specified object does not have an ObjectLock configuration."},
	InvalidBucketState:                   {409, "The request is not valid with the current state of the bucket."},
	InvalidRetentionPeriod:               {400, "The retention period is not valid."},
	NoSuchLifecycleConfiguration:         {404, "The lifecycle configuration does not exist."},
	MalformedPOSTRequest:                 {400, "The body of your POST request is not well-formed multipart/form-data."},
	MaxPostPreDataLengthExceeded:         {400, "Your POST request fields preceding the upload file were too large."},
	InvalidPolicyDocument:                {400, "The content of the form does not meet the conditions specified in the policy document."},
}

// Status returns the HTTP status of c (500 for an unknown code).
func (c Code) Status() int {
	if i, ok := table[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Message returns the default message of c.
func (c Code) Message() string { return table[c].message }

// Error is an S3 error response.
type Error struct {
	Code      Code
	Message   string
	Resource  string
	RequestID string
	// Extra holds further elements AWS adds for some codes (BucketName,
	// Key, UploadId, ArgumentName, ...), written in the given order.
	Extra [][2]string
}

// New returns an Error of code with its default message.
func New(code Code) *Error { return &Error{Code: code, Message: code.Message()} }

// Newf returns an Error of code with a specific message.
func Newf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// With adds an extra element.
func (e *Error) With(name, value string) *Error {
	e.Extra = append(e.Extra, [2]string{name, value})
	return e
}

// Error implements error: a short string, never XML.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Status returns the HTTP status of the error.
func (e *Error) Status() int { return e.Code.Status() }

type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Extra     []xmlExtra
	Resource  string `xml:"Resource,omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

type xmlExtra struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// WriteXML writes the error as the response: status, headers and (except
// for HEAD requests and 304) the XML body.
func (e *Error) WriteXML(w http.ResponseWriter, method string) {
	status := e.Status()
	h := w.Header()
	if e.RequestID != "" {
		h.Set("x-amz-request-id", e.RequestID)
	}
	if method == http.MethodHead || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	body := xmlError{Code: string(e.Code), Message: e.Message, Resource: e.Resource, RequestID: e.RequestID, HostID: e.RequestID}
	for _, x := range e.Extra {
		body.Extra = append(body.Extra, xmlExtra{XMLName: xml.Name{Local: x[0]}, Value: x[1]})
	}
	out, err := xml.Marshal(body)
	if err != nil {
		out = []byte("<Error><Code>InternalError</Code></Error>")
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(out)
}
