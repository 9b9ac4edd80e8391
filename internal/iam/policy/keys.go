package policy

import "strings"

// Condition keys cairn fills in a request context (Request.Context), and
// the others AWS defines that a policy may name (they are then absent,
// as on AWS for a request they do not apply to). Names are compared
// case-insensitively.
var conditionKeys = []string{
	// Global keys.
	"aws:CurrentTime", "aws:EpochTime", "aws:SecureTransport", "aws:SourceIp",
	"aws:UserAgent", "aws:Referer", "aws:userid", "aws:username",
	"aws:PrincipalType", "aws:PrincipalArn", "aws:PrincipalAccount",
	"aws:TagKeys", "aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge",
	"aws:TokenIssueTime", "aws:SourceVpc", "aws:SourceVpce", "aws:VpcSourceIp",
	"aws:SourceArn", "aws:SourceAccount", "aws:RequestedRegion",
	"aws:ViaAWSService", "aws:CalledVia", "aws:PrincipalIsAWSService",
	"aws:PrincipalServiceName", "aws:PrincipalOrgID",
	// S3 keys.
	"s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl",
	"s3:x-amz-copy-source", "s3:x-amz-grant-read", "s3:x-amz-grant-write",
	"s3:x-amz-grant-read-acp", "s3:x-amz-grant-write-acp",
	"s3:x-amz-grant-full-control", "s3:x-amz-metadata-directive",
	"s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
	"s3:x-amz-server-side-encryption-customer-algorithm", "s3:x-amz-storage-class",
	"s3:x-amz-website-redirect-location", "s3:x-amz-content-sha256",
	"s3:x-amz-object-ownership", "s3:VersionId", "s3:LocationConstraint",
	"s3:RequestObjectTagKeys", "s3:object-lock-mode",
	"s3:object-lock-retain-until-date", "s3:object-lock-remaining-retention-days",
	"s3:object-lock-legal-hold", "s3:signatureversion", "s3:signatureAge",
	"s3:authType", "s3:TlsVersion", "s3:ResourceAccount",
	"s3:if-match", "s3:if-none-match",
	// STS.
	"sts:DurationSeconds",
}

// taggedKeys are key families with a tag name after the '/'.
var taggedKeys = []string{
	"aws:RequestTag/", "aws:ResourceTag/", "aws:PrincipalTag/",
	"s3:ExistingObjectTag/", "s3:RequestObjectTag/", "s3:BucketTag/",
}

func knownKey(k string) bool {
	for _, f := range taggedKeys {
		if len(k) > len(f) && strings.EqualFold(k[:len(f)], f) {
			return true
		}
	}
	for _, c := range conditionKeys {
		if strings.EqualFold(c, k) {
			return true
		}
	}
	return false
}

// canonKey is the form a condition key is stored and looked up in: lower
// case up to its first '/', as written after it (a tag's name).
func canonKey(k string) string {
	name, tag, hasTag := strings.Cut(k, "/")
	name = strings.ToLower(name)
	if hasTag {
		return name + "/" + tag
	}
	return name
}
