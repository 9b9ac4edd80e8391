package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// simpleActions maps the action names of MyFSIO's simple policy form to
// the actions they grant. Names of S3 and admin actions ("s3:GetObject")
// may be used in that form too.
var simpleActions = map[string][]string{
	"list": {"s3:ListBucket", "s3:ListAllMyBuckets", "s3:ListBucketVersions",
		"s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:GetBucketLocation"},
	"read": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
		"s3:GetObjectAcl", "s3:GetObjectVersionAcl", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"},
	"write": {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:PutObjectAcl",
		"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
	"delete":        {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"},
	"create_bucket": {"s3:CreateBucket"},
	"delete_bucket": {"s3:DeleteBucket"},
	"share":         {"s3:GetBucketAcl", "s3:PutBucketAcl"},
	"policy":        {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus"},
	"versioning":    {"s3:GetBucketVersioning", "s3:PutBucketVersioning"},
	"tagging":       {"s3:GetBucketTagging", "s3:PutBucketTagging"},
	"encryption":    {"s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"},
	"lifecycle":     {"s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"},
	"cors":          {"s3:GetBucketCORS", "s3:PutBucketCORS"},
	"replication": {"s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
		"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"},
	"quota": {"admin:GetBucketQuota", "admin:SetBucketQuota"},
	"object_lock": {"s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration",
		"s3:GetObjectRetention", "s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectLegalHold"},
	"bypass_governance":   {"s3:BypassGovernanceRetention"},
	"notification":        {"s3:GetBucketNotification", "s3:PutBucketNotification", "s3:ListenBucketNotification", "s3:ListenNotification"},
	"logging":             {"s3:GetBucketLogging", "s3:PutBucketLogging"},
	"website":             {"s3:GetBucketWebsite", "s3:PutBucketWebsite", "s3:DeleteBucketWebsite"},
	"ownership_controls":  {"s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls"},
	"public_access_block": {"s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"},
	// Identity management: the admin API's actions.
	"iam:list_users":    {"admin:ListUsers", "admin:ListGroups"},
	"iam:get_user":      {"admin:GetUser", "admin:GetGroup", "admin:ListServiceAccounts"},
	"iam:create_user":   {"admin:CreateUser"},
	"iam:delete_user":   {"admin:DeleteUser"},
	"iam:disable_user":  {"admin:EnableUser", "admin:DisableUser"},
	"iam:rotate_key":    {"admin:CreateUser", "admin:UpdateServiceAccount"},
	"iam:create_key":    {"admin:CreateServiceAccount"},
	"iam:delete_key":    {"admin:RemoveServiceAccount"},
	"iam:get_policy":    {"admin:GetPolicy", "admin:ListUserPolicies"},
	"iam:update_policy": {"admin:CreatePolicy", "admin:DeletePolicy", "admin:AttachUserOrGroupPolicy"},
	"iam:*": {"admin:ListUsers", "admin:ListGroups", "admin:GetUser", "admin:GetGroup",
		"admin:CreateUser", "admin:DeleteUser", "admin:EnableUser", "admin:DisableUser",
		"admin:AddUserToGroup", "admin:RemoveUserFromGroup", "admin:EnableGroup", "admin:DisableGroup",
		"admin:CreatePolicy", "admin:DeletePolicy", "admin:GetPolicy", "admin:ListUserPolicies",
		"admin:AttachUserOrGroupPolicy", "admin:CreateServiceAccount", "admin:UpdateServiceAccount",
		"admin:RemoveServiceAccount", "admin:ListServiceAccounts"},
	"*": {"s3:*", "admin:*", "sts:*", "kms:*"},
}

// SimpleActionNames returns the action names of the simple form.
func SimpleActionNames() []string {
	names := make([]string, 0, len(simpleActions))
	for n := range simpleActions {
		names = append(names, n)
	}
	return names
}

type simpleEntry struct {
	Bucket  string   `json:"bucket"`
	Actions []string `json:"actions"`
	Prefix  string   `json:"prefix"`
}

// IsSimple reports whether doc is in MyFSIO's simple form: a JSON list.
func IsSimple(doc []byte) bool {
	t := bytes.TrimSpace(doc)
	return len(t) > 0 && t[0] == '['
}

// ParseAny parses an identity policy in either form: an AWS document, or
// MyFSIO's list of {"bucket", "actions", "prefix"} entries.
func ParseAny(doc []byte) (*Policy, error) {
	if IsSimple(doc) {
		return ParseSimple(doc)
	}
	return Parse(doc)
}

// ParseSimple parses MyFSIO's simple policy form and compiles it to the
// AWS document SimpleToAWS gives, evaluated like any other. JSON returns
// the simple form as given.
func ParseSimple(doc []byte) (*Policy, error) {
	aws, err := SimpleToAWS(doc)
	if err != nil {
		return nil, err
	}
	p, err := Parse(aws)
	if err != nil {
		return nil, err
	}
	p.raw = append([]byte(nil), doc...)
	return p, nil
}

// SimpleToAWS returns the AWS policy document a simple-form policy means:
// for each entry, object actions on bucket/prefix*, listing actions on
// the bucket limited to s3:prefix values under prefix (when one is
// given), the bucket's other actions on the bucket, and actions that name
// no bucket on every resource. Errors name the entry (1-based).
func SimpleToAWS(doc []byte) ([]byte, error) {
	if len(doc) > MaxSize {
		return nil, errorf("the document is %d bytes long; at most %d are allowed", len(doc), MaxSize)
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	var entries []simpleEntry
	if err := d.Decode(&entries); err != nil {
		return nil, errorf("a simple policy is a list of {\"bucket\", \"actions\", \"prefix\"}: %s", jsonProblem(err))
	}
	if len(entries) == 0 {
		return nil, errorf("the policy has no entries")
	}
	type stmt struct {
		Effect    string         `json:"Effect"`
		Action    []string       `json:"Action"`
		Resource  []string       `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	var out []stmt
	for i, e := range entries {
		bad := func(format string, args ...any) error {
			return &Error{Statement: i + 1, Msg: fmt.Sprintf(format, args...)}
		}
		switch {
		case e.Bucket == "":
			return nil, bad("the entry names no bucket (use \"*\" for all)")
		case e.Bucket != "*" && strings.ContainsAny(e.Bucket, "*?/"):
			return nil, bad("bucket %q: a bucket is a name or \"*\"", e.Bucket)
		case e.Prefix != "" && e.Bucket == "*":
			return nil, bad("a prefix needs a named bucket")
		case strings.ContainsAny(e.Prefix, "*?$"):
			return nil, bad("prefix %q: wildcards are not allowed", e.Prefix)
		case len(e.Actions) == 0:
			return nil, bad("the entry names no action")
		}
		var object, list, bucket, service []string
		for _, name := range e.Actions {
			granted, ok := simpleActions[strings.ToLower(name)]
			if !ok {
				if err := checkAction(name); err != nil {
					return nil, bad("unknown action %q", name)
				}
				granted = []string{name}
			}
			for _, g := range granted {
				for _, a := range actionTable {
					if !globMatch(g, a.Name, true) {
						continue
					}
					switch {
					case a.Level == LevelObject:
						object = appendNew(object, a.Name)
					case a.Name == "s3:ListBucket" || a.Name == "s3:ListBucketVersions" || a.Name == "s3:ListBucketMultipartUploads":
						list = appendNew(list, a.Name)
					case a.Level == LevelBucket:
						bucket = appendNew(bucket, a.Name)
					default:
						service = appendNew(service, a.Name)
					}
				}
			}
		}
		if len(object) > 0 {
			out = append(out, stmt{Effect: "Allow", Action: object, Resource: []string{ObjectARN(e.Bucket, e.Prefix+"*")}})
		}
		if e.Prefix == "" {
			bucket = append(list, bucket...)
		} else if len(list) > 0 {
			out = append(out, stmt{Effect: "Allow", Action: list, Resource: []string{BucketARN(e.Bucket)},
				Condition: map[string]any{"StringLike": map[string][]string{"s3:prefix": {e.Prefix + "*"}}}})
		}
		if len(bucket) > 0 {
			out = append(out, stmt{Effect: "Allow", Action: bucket, Resource: []string{BucketARN(e.Bucket)}})
		}
		if len(service) > 0 {
			out = append(out, stmt{Effect: "Allow", Action: service, Resource: []string{"*"}})
		}
	}
	return json.Marshal(map[string]any{"Version": Version2012, "Statement": out})
}

func appendNew(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
