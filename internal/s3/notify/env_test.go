package notify

import (
	"reflect"
	"strings"
	"testing"
)

func TestTargetsFromEnv(t *testing.T) {
	got, err := TargetsFromEnv([]string{
		"PATH=/bin",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_PRIMARY=on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_PRIMARY=http://127.0.0.1:9000/hook",
		"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PRIMARY=secret",
		"MINIO_NOTIFY_WEBHOOK_ENABLE=on", // the default ID
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT=http://a/",
		"CAIRN_NOTIFY_WEBHOOK_ENDPOINT=http://b/", // cairn's wins
		"MINIO_NOTIFY_REDIS_ENABLE_1=off",
		"MINIO_NOTIFY_REDIS_ADDRESS_1=127.0.0.1:6379",
		"CAIRN_NOTIFY_REDIS_ENABLE_2=true",
		"CAIRN_NOTIFY_REDIS_ADDRESS_2=127.0.0.1:6380",
		"CAIRN_NOTIFY_REDIS_KEY_2=events",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []TargetConfig{
		{Type: "redis", ID: "2", Params: map[string]string{"enable": "true", "address": "127.0.0.1:6380", "key": "events"}},
		{Type: "webhook", ID: "PRIMARY", Params: map[string]string{"enable": "on", "endpoint": "http://127.0.0.1:9000/hook", "auth_token": "secret"}},
		{Type: "webhook", ID: "_", Params: map[string]string{"enable": "on", "endpoint": "http://b/"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("targets\n got %+v\nwant %+v", got, want)
	}
	if got[1].ARN() != "arn:minio:sqs::PRIMARY:webhook" {
		t.Fatalf("ARN %s", got[1].ARN())
	}
	for _, bad := range []string{"MINIO_NOTIFY_PIGEON_ENABLE=on", "MINIO_NOTIFY_WEBHOOK_COLOUR_1=red", "CAIRN_NOTIFY_X=1"} {
		if _, err := TargetsFromEnv([]string{bad}); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("%s: %v, want an error naming it", bad, err)
		}
	}
}
