package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A settingsTab is one tab of a bucket's settings: how to show it and how
// to apply its form. Each goes through the S3 API of its feature.
type settingsTab struct {
	id, label string
	// load reads the current setting into data; errHidden hides the tab.
	load func(c *Console, k *call, bucket string, data map[string]any) error
	// apply applies the posted form.
	apply func(c *Console, k *call, bucket string) error
}

// errHidden hides a tab the bucket or the user has no use for (object
// lock on a bucket without it, quotas for a user who is not an admin).
var errHidden = errors.New("console: tab hidden")

var settingsTabs = []settingsTab{
	{id: "versioning", label: "Versioning", load: loadVersioning, apply: applyVersioning},
	{id: "access", label: "Access", load: loadAccess, apply: applyAccess},
	{id: "lifecycle", label: "Lifecycle", load: loadLifecycle, apply: applyLifecycle},
	{id: "cors", label: "CORS", load: loadCORS, apply: applyCORS},
	{id: "tags", label: "Tags", load: loadTags, apply: applyTags},
	{id: "lock", label: "Object lock", load: loadLock, apply: applyLock},
	{id: "quota", label: "Quota", load: loadQuota, apply: applyQuota},
	{id: "notifications", label: "Events", load: loadNotifications, apply: applyNotifications},
}

func findTab(id string) *settingsTab {
	for i := range settingsTabs {
		if settingsTabs[i].id == id {
			return &settingsTabs[i]
		}
	}
	return nil
}

// A tabLink is a tab in the page's tab bar.
type tabLink struct {
	ID, Label, URL string
	Current        bool
}

func settingsURL(bucket, tab string) string {
	return Prefix + "settings?" + url.Values{"bucket": {bucket}, "tab": {tab}}.Encode()
}

func (c *Console) settingsPage(k *call) error {
	return c.showSettings(k, k.r.FormValue("bucket"), k.r.FormValue("tab"), http.StatusOK, k.se.takeFlash(), "")
}

// showSettings renders one tab; msg is a note (or, with status ≥ 400, an
// error) and posted the text the user sent, kept so nothing typed is lost.
func (c *Console) showSettings(k *call, bucket, tabID string, status int, msg, posted string) error {
	if err := checkName(bucket, ""); err != nil {
		return err
	}
	if _, err := k.se.s3.HeadBucket(k.r.Context(), &s3.HeadBucketInput{Bucket: &bucket}); err != nil && errorCode(err) != "Forbidden" {
		return err
	}
	if tabID == "" {
		tabID = settingsTabs[0].id
	}
	tab := findTab(tabID)
	if tab == nil {
		return badRequest("No settings tab %q.", tabID)
	}
	data := map[string]any{"Title": bucket + " settings", "Bucket": bucket, "Tab": tab.id, "TabLabel": tab.label}
	err := tab.load(c, k, bucket, data)
	if errors.Is(err, errHidden) {
		data["Hidden"] = true
	} else if err != nil {
		if status < 400 {
			status, msg = c.describe(err)
		}
		data["LoadFailed"] = true
	}
	var links []tabLink
	for _, t := range settingsTabs {
		if t.id != tab.id && !c.tabVisible(k, &t, bucket) {
			continue
		}
		links = append(links, tabLink{ID: t.id, Label: t.label, URL: settingsURL(bucket, t.id), Current: t.id == tab.id})
	}
	data["Tabs"] = links
	if status >= 400 {
		data["Error"] = msg
		k.w.WriteHeader(status)
	} else {
		data["Message"] = msg
	}
	if posted != "" {
		data["Text"] = posted
	}
	c.render(k, "settings", data)
	return nil
}

// tabVisible tells whether a tab has anything to show for this bucket and
// user (a tab that fails for another reason stays, to show the error).
func (c *Console) tabVisible(k *call, t *settingsTab, bucket string) bool {
	switch t.id {
	case "lock", "quota":
		return !errors.Is(t.load(c, k, bucket, map[string]any{}), errHidden)
	}
	return true
}

func (c *Console) applySettings(k *call) error {
	bucket, tabID := k.r.PostFormValue("bucket"), k.r.PostFormValue("tab")
	if err := checkName(bucket, ""); err != nil {
		return err
	}
	tab := findTab(tabID)
	if tab == nil {
		return badRequest("No settings tab %q.", tabID)
	}
	if err := tab.apply(c, k, bucket); err != nil {
		status, msg := c.describe(err)
		return c.showSettings(k, bucket, tab.id, status, msg, k.r.PostFormValue("text"))
	}
	k.se.setFlash("Saved.")
	http.Redirect(k.w, k.r, settingsURL(bucket, tab.id), http.StatusSeeOther)
	return nil
}

func loadVersioning(c *Console, k *call, bucket string, data map[string]any) error {
	v, err := k.se.s3.GetBucketVersioning(k.r.Context(), &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	data["Versioning"] = string(v.Status)
	return nil
}

func applyVersioning(c *Console, k *call, bucket string) error {
	st := types.BucketVersioningStatus(k.r.PostFormValue("status"))
	if st != types.BucketVersioningStatusEnabled && st != types.BucketVersioningStatusSuspended {
		return badRequest("Versioning is Enabled or Suspended.")
	}
	_, err := k.se.s3.PutBucketVersioning(k.r.Context(), &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
	return err
}

// accessPresets are the bucket policies the Access tab offers by name
// (MinIO's anonymous access levels): what anyone, signed or not, may do.
var accessPresets = []struct{ ID, Label, Actions, Scope string }{
	{"download", "Public read: anyone may download objects by name", `"s3:GetObject"`, "objects"},
	{"public", "Public read and list: anyone may list and download", `"s3:GetObject","s3:ListBucket"`, "both"},
	{"upload", "Public write: anyone may upload (a drop box)", `"s3:PutObject"`, "objects"},
}

func presetPolicy(id, bucket string) string {
	for _, p := range accessPresets {
		if p.ID != id {
			continue
		}
		if p.Scope == "both" {
			return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%[1]s/*"]},{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::%[1]s"]}]}`, bucket)
		}
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":[%s],"Resource":["arn:aws:s3:::%s/*"]}]}`, p.Actions, bucket)
	}
	return ""
}

func loadAccess(c *Console, k *call, bucket string, data map[string]any) error {
	data["Presets"] = accessPresets
	out, err := k.se.s3.GetBucketPolicy(k.r.Context(), &s3.GetBucketPolicyInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchBucketPolicy" {
		data["Preset"] = "private"
		return nil
	}
	if err != nil {
		return err
	}
	doc := aws.ToString(out.Policy)
	data["Preset"] = "custom"
	for _, p := range accessPresets {
		if sameJSON(doc, presetPolicy(p.ID, bucket)) {
			data["Preset"] = p.ID
		}
	}
	data["Text"] = indentJSON(doc)
	return nil
}

func applyAccess(c *Console, k *call, bucket string) error {
	ctx, preset := k.r.Context(), k.r.PostFormValue("preset")
	var doc string
	switch preset {
	case "private":
		_, err := k.se.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket})
		return err
	case "custom":
		doc = strings.TrimSpace(k.r.PostFormValue("text"))
		if !json.Valid([]byte(doc)) {
			return badRequest("The policy is not valid JSON.")
		}
	default:
		if doc = presetPolicy(preset, bucket); doc == "" {
			return badRequest("No access preset %q.", preset)
		}
	}
	_, err := k.se.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &doc})
	return err
}

// The JSON tabs (lifecycle, CORS, events) show and take a configuration
// in the aws CLI's form, so a document from its docs works as it is.

func loadLifecycle(c *Console, k *call, bucket string, data map[string]any) error {
	out, err := k.se.s3.GetBucketLifecycleConfiguration(k.r.Context(), &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchLifecycleConfiguration" {
		return nil
	}
	if err != nil {
		return err
	}
	data["Text"] = cleanJSON(map[string]any{"Rules": out.Rules})
	return nil
}

func applyLifecycle(c *Console, k *call, bucket string) error {
	ctx, text := k.r.Context(), strings.TrimSpace(k.r.PostFormValue("text"))
	if text == "" {
		_, err := k.se.s3.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &bucket})
		return err
	}
	var cfg types.BucketLifecycleConfiguration
	if err := strictJSON(text, &cfg); err != nil {
		return err
	}
	_, err := k.se.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &bucket, LifecycleConfiguration: &cfg})
	return err
}

func loadCORS(c *Console, k *call, bucket string, data map[string]any) error {
	out, err := k.se.s3.GetBucketCors(k.r.Context(), &s3.GetBucketCorsInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchCORSConfiguration" {
		return nil
	}
	if err != nil {
		return err
	}
	data["Text"] = cleanJSON(map[string]any{"CORSRules": out.CORSRules})
	return nil
}

func applyCORS(c *Console, k *call, bucket string) error {
	ctx, text := k.r.Context(), strings.TrimSpace(k.r.PostFormValue("text"))
	if text == "" {
		_, err := k.se.s3.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: &bucket})
		return err
	}
	var cfg types.CORSConfiguration
	if err := strictJSON(text, &cfg); err != nil {
		return err
	}
	_, err := k.se.s3.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &bucket, CORSConfiguration: &cfg})
	return err
}

func loadNotifications(c *Console, k *call, bucket string, data map[string]any) error {
	out, err := k.se.s3.GetBucketNotificationConfiguration(k.r.Context(), &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	doc := map[string]any{}
	if len(out.QueueConfigurations) > 0 {
		doc["QueueConfigurations"] = out.QueueConfigurations
	}
	if len(out.TopicConfigurations) > 0 {
		doc["TopicConfigurations"] = out.TopicConfigurations
	}
	if len(out.LambdaFunctionConfigurations) > 0 {
		doc["LambdaFunctionConfigurations"] = out.LambdaFunctionConfigurations
	}
	if len(doc) > 0 {
		data["Text"] = cleanJSON(doc)
	}
	return nil
}

func applyNotifications(c *Console, k *call, bucket string) error {
	text := strings.TrimSpace(k.r.PostFormValue("text"))
	var cfg types.NotificationConfiguration
	if text != "" {
		if err := strictJSON(text, &cfg); err != nil {
			return err
		}
	}
	_, err := k.se.s3.PutBucketNotificationConfiguration(k.r.Context(), &s3.PutBucketNotificationConfigurationInput{Bucket: &bucket,
		NotificationConfiguration: &cfg})
	return err
}

// A tag is one row of the Tags tab.
type tag struct{ Key, Value string }

func loadTags(c *Console, k *call, bucket string, data map[string]any) error {
	out, err := k.se.s3.GetBucketTagging(k.r.Context(), &s3.GetBucketTaggingInput{Bucket: &bucket})
	if errorCode(err) == "NoSuchTagSet" {
		return nil
	}
	if err != nil {
		return err
	}
	var lines []string
	for _, t := range out.TagSet {
		lines = append(lines, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	slices.Sort(lines)
	data["Text"] = strings.Join(lines, "\n")
	return nil
}

func applyTags(c *Console, k *call, bucket string) error {
	ctx := k.r.Context()
	set, err := parseTags(k.r.PostFormValue("text"))
	if err != nil {
		return err
	}
	if len(set) == 0 {
		_, err := k.se.s3.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &bucket})
		return err
	}
	_, err = k.se.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &bucket, Tagging: &types.Tagging{TagSet: set}})
	return err
}

func loadLock(c *Console, k *call, bucket string, data map[string]any) error {
	out, err := k.se.s3.GetObjectLockConfiguration(k.r.Context(), &s3.GetObjectLockConfigurationInput{Bucket: &bucket})
	if errorCode(err) == "ObjectLockConfigurationNotFoundError" || errorCode(err) == "AccessDenied" {
		return errHidden
	}
	if err != nil {
		return err
	}
	if out.ObjectLockConfiguration == nil || out.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return errHidden
	}
	data["LockMode"], data["LockDays"], data["LockYears"] = "", "", ""
	if r := out.ObjectLockConfiguration.Rule; r != nil && r.DefaultRetention != nil {
		d := r.DefaultRetention
		data["LockMode"] = string(d.Mode)
		if d.Days != nil {
			data["LockDays"] = strconv.Itoa(int(*d.Days))
		}
		if d.Years != nil {
			data["LockYears"] = strconv.Itoa(int(*d.Years))
		}
	}
	return nil
}

func applyLock(c *Console, k *call, bucket string) error {
	f := k.r.PostFormValue
	cfg := &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}
	if mode := f("mode"); mode != "" {
		n, err := strconv.ParseInt(f("period"), 10, 32)
		if err != nil || n <= 0 {
			return badRequest("A default retention needs a period of one or more days or years.")
		}
		d := &types.DefaultRetention{Mode: types.ObjectLockRetentionMode(mode)}
		if f("unit") == "years" {
			d.Years = aws.Int32(int32(n))
		} else {
			d.Days = aws.Int32(int32(n))
		}
		cfg.Rule = &types.ObjectLockRule{DefaultRetention: d}
	}
	_, err := k.se.s3.PutObjectLockConfiguration(k.r.Context(), &s3.PutObjectLockConfigurationInput{Bucket: &bucket, ObjectLockConfiguration: cfg})
	return err
}

// parseTags reads tags written one key=value per line (blank lines
// skipped; spaces around keys and values dropped).
func parseTags(text string) ([]types.Tag, error) {
	var set []types.Tag
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, badRequest("Line %d: write each tag as key=value.", i+1)
		}
		set = append(set, types.Tag{Key: aws.String(strings.TrimSpace(key)), Value: aws.String(strings.TrimSpace(value))})
	}
	return set, nil
}

// strictJSON decodes a configuration, naming unknown fields, so a typo
// is reported instead of dropped.
func strictJSON(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("The configuration is not in the expected form: %v.", err)
	}
	return nil
}

// cleanJSON writes v indented, without the null and empty fields the SDK's
// types leave.
func cleanJSON(v any) string {
	b, _ := json.Marshal(v)
	var g any
	json.Unmarshal(b, &g)
	out, _ := json.MarshalIndent(prune(g), "", "  ")
	return string(out)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			e = prune(e)
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = e
		}
		if len(x) == 0 {
			return nil
		}
		return x
	case []any:
		if len(x) == 0 {
			return nil
		}
		for i := range x {
			x[i] = prune(x[i])
		}
		return x
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

func indentJSON(doc string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(doc), "", "  ") != nil {
		return doc
	}
	return b.String()
}

// sameJSON tells whether two JSON documents hold the same values.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
