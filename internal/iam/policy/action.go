package policy

import "strings"

// Level is what an action's resource names.
type Level uint8

const (
	// LevelService actions name no bucket (ListAllMyBuckets, the admin
	// API, STS); their resource is "*" or any ARN.
	LevelService Level = iota
	// LevelBucket actions name a bucket: arn:aws:s3:::bucket.
	LevelBucket
	// LevelObject actions name an object: arn:aws:s3:::bucket/key.
	LevelObject
)

// An Action is an operation a policy may allow or deny.
type Action struct {
	Name  string // "s3:GetObject": service prefix, colon, name
	Level Level
}

// actionTable lists every action cairn recognises in a policy: the S3
// actions of AWS's service authorization reference that S3-compatible
// servers serve, MinIO's admin actions (as `mc admin` needs them) and
// STS's. An action that cairn does not serve yet may still be named, so
// that policies written for AWS or MinIO load unchanged.
var actionTable = []Action{
	// S3, service level.
	{"s3:ListAllMyBuckets", LevelService},
	{"s3:ListenNotification", LevelService}, // MinIO: the events of every bucket
	// S3, bucket level.
	{"s3:CreateBucket", LevelBucket},
	{"s3:DeleteBucket", LevelBucket},
	{"s3:ListBucket", LevelBucket},
	{"s3:ListBucketVersions", LevelBucket},
	{"s3:ListBucketMultipartUploads", LevelBucket},
	{"s3:GetBucketLocation", LevelBucket},
	{"s3:GetBucketVersioning", LevelBucket},
	{"s3:PutBucketVersioning", LevelBucket},
	{"s3:GetBucketPolicy", LevelBucket},
	{"s3:PutBucketPolicy", LevelBucket},
	{"s3:DeleteBucketPolicy", LevelBucket},
	{"s3:GetBucketPolicyStatus", LevelBucket},
	{"s3:GetBucketAcl", LevelBucket},
	{"s3:PutBucketAcl", LevelBucket},
	{"s3:GetBucketCORS", LevelBucket},
	{"s3:PutBucketCORS", LevelBucket},
	{"s3:GetBucketTagging", LevelBucket},
	{"s3:PutBucketTagging", LevelBucket},
	{"s3:GetBucketWebsite", LevelBucket},
	{"s3:PutBucketWebsite", LevelBucket},
	{"s3:DeleteBucketWebsite", LevelBucket},
	{"s3:GetBucketLogging", LevelBucket},
	{"s3:PutBucketLogging", LevelBucket},
	{"s3:GetBucketNotification", LevelBucket},
	{"s3:PutBucketNotification", LevelBucket},
	{"s3:ListenBucketNotification", LevelBucket},
	{"s3:GetBucketObjectLockConfiguration", LevelBucket},
	{"s3:PutBucketObjectLockConfiguration", LevelBucket},
	{"s3:GetEncryptionConfiguration", LevelBucket},
	{"s3:PutEncryptionConfiguration", LevelBucket},
	{"s3:GetLifecycleConfiguration", LevelBucket},
	{"s3:PutLifecycleConfiguration", LevelBucket},
	{"s3:GetReplicationConfiguration", LevelBucket},
	{"s3:PutReplicationConfiguration", LevelBucket},
	{"s3:GetBucketOwnershipControls", LevelBucket},
	{"s3:PutBucketOwnershipControls", LevelBucket},
	{"s3:GetBucketPublicAccessBlock", LevelBucket},
	{"s3:PutBucketPublicAccessBlock", LevelBucket},
	{"s3:GetAccelerateConfiguration", LevelBucket},
	{"s3:PutAccelerateConfiguration", LevelBucket},
	{"s3:GetBucketRequestPayment", LevelBucket},
	{"s3:PutBucketRequestPayment", LevelBucket},
	{"s3:GetIntelligentTieringConfiguration", LevelBucket},
	{"s3:PutIntelligentTieringConfiguration", LevelBucket},
	{"s3:GetInventoryConfiguration", LevelBucket},
	{"s3:PutInventoryConfiguration", LevelBucket},
	{"s3:GetMetricsConfiguration", LevelBucket},
	{"s3:PutMetricsConfiguration", LevelBucket},
	{"s3:GetAnalyticsConfiguration", LevelBucket},
	{"s3:PutAnalyticsConfiguration", LevelBucket},
	// S3, object level.
	{"s3:GetObject", LevelObject},
	{"s3:GetObjectVersion", LevelObject},
	{"s3:GetObjectAttributes", LevelObject},
	{"s3:GetObjectVersionAttributes", LevelObject},
	{"s3:PutObject", LevelObject},
	{"s3:DeleteObject", LevelObject},
	{"s3:DeleteObjectVersion", LevelObject},
	{"s3:AbortMultipartUpload", LevelObject},
	{"s3:ListMultipartUploadParts", LevelObject},
	{"s3:GetObjectAcl", LevelObject},
	{"s3:GetObjectVersionAcl", LevelObject},
	{"s3:PutObjectAcl", LevelObject},
	{"s3:PutObjectVersionAcl", LevelObject},
	{"s3:GetObjectTagging", LevelObject},
	{"s3:GetObjectVersionTagging", LevelObject},
	{"s3:PutObjectTagging", LevelObject},
	{"s3:PutObjectVersionTagging", LevelObject},
	{"s3:DeleteObjectTagging", LevelObject},
	{"s3:DeleteObjectVersionTagging", LevelObject},
	{"s3:GetObjectRetention", LevelObject},
	{"s3:PutObjectRetention", LevelObject},
	{"s3:GetObjectLegalHold", LevelObject},
	{"s3:PutObjectLegalHold", LevelObject},
	{"s3:BypassGovernanceRetention", LevelObject},
	{"s3:RestoreObject", LevelObject},
	{"s3:GetObjectTorrent", LevelObject},
	{"s3:GetObjectVersionTorrent", LevelObject},
	{"s3:ReplicateObject", LevelObject},
	{"s3:ReplicateDelete", LevelObject},
	{"s3:ReplicateTags", LevelObject},
	{"s3:GetObjectVersionForReplication", LevelObject},
	// MinIO's admin API, as `mc admin` calls it.
	{"admin:ServerInfo", LevelService},
	{"admin:StorageInfo", LevelService},
	{"admin:DataUsageInfo", LevelService},
	{"admin:Prometheus", LevelService},
	{"admin:Profiling", LevelService},
	{"admin:ServerTrace", LevelService},
	{"admin:ConsoleLog", LevelService},
	{"admin:OBDInfo", LevelService},
	{"admin:TopLocksInfo", LevelService},
	{"admin:BandwidthMonitor", LevelService},
	{"admin:ConfigUpdate", LevelService},
	{"admin:ServiceRestart", LevelService},
	{"admin:CreateUser", LevelService},
	{"admin:DeleteUser", LevelService},
	{"admin:ListUsers", LevelService},
	{"admin:GetUser", LevelService},
	{"admin:EnableUser", LevelService},
	{"admin:DisableUser", LevelService},
	{"admin:AddUserToGroup", LevelService},
	{"admin:RemoveUserFromGroup", LevelService},
	{"admin:GetGroup", LevelService},
	{"admin:ListGroups", LevelService},
	{"admin:EnableGroup", LevelService},
	{"admin:DisableGroup", LevelService},
	{"admin:CreatePolicy", LevelService},
	{"admin:DeletePolicy", LevelService},
	{"admin:GetPolicy", LevelService},
	{"admin:ListUserPolicies", LevelService},
	{"admin:AttachUserOrGroupPolicy", LevelService},
	{"admin:CreateServiceAccount", LevelService},
	{"admin:UpdateServiceAccount", LevelService},
	{"admin:RemoveServiceAccount", LevelService},
	{"admin:ListServiceAccounts", LevelService},
	{"admin:SetBucketQuota", LevelBucket},
	{"admin:GetBucketQuota", LevelBucket},
	{"admin:SetBucketTarget", LevelBucket},
	{"admin:GetBucketTarget", LevelBucket},
	{"admin:SetTier", LevelService},
	{"admin:ListTier", LevelService},
	{"admin:Heal", LevelService},
	// STS.
	{"sts:AssumeRole", LevelService},
	// KMS, for policies written for MinIO (consoleAdmin names kms:*).
	{"kms:Status", LevelService},
	{"kms:CreateKey", LevelService},
	{"kms:ListKeys", LevelService},
	{"kms:KeyStatus", LevelService},
}

// Actions returns the actions cairn recognises, in a fixed order.
func Actions() []Action { return append([]Action(nil), actionTable...) }

// LookupAction returns the action named name (case-insensitively).
func LookupAction(name string) (Action, bool) {
	for _, a := range actionTable {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Action{}, false
}

// services are the action prefixes a document may name.
var services = []string{"s3", "admin", "sts", "kms"}

// checkAction validates one Action/NotAction value: "*", a known action,
// or a pattern of a known service that matches at least one known action.
func checkAction(s string) *Error {
	if s == "*" {
		return nil
	}
	svc, name, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return errorf("action %q is not of the form service:action", s)
	}
	known := false
	for _, v := range services {
		if strings.EqualFold(v, svc) {
			known = true
		}
	}
	if !known {
		return errorf("action %q names unknown service %q", s, svc)
	}
	p := compileGlob(s)
	for _, a := range actionTable {
		if p.match(a.Name, true) {
			return nil
		}
	}
	if p.wild() {
		return errorf("action pattern %q matches no action", s)
	}
	return errorf("unknown action %q", s)
}
