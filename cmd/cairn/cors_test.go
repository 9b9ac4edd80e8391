package main

import "testing"

func TestCORSFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if r, err := corsFromEnv(env(nil)); err != nil || r != nil {
		t.Fatalf("unset: %v %v", r, err)
	}
	r, err := corsFromEnv(env(map[string]string{"CAIRN_CORS_ORIGINS": "https://a.example, https://*.b.example", "CAIRN_CORS_METHODS": "get,put", "CAIRN_CORS_MAX_AGE": "300"}))
	if err != nil || len(r) != 1 || len(r[0].AllowedOrigins) != 2 || r[0].AllowedMethods[1] != "PUT" || r[0].MaxAgeSeconds != 300 || r[0].AllowedHeaders[0] != "*" {
		t.Fatalf("rule: %+v %v", r, err)
	}
	for _, bad := range []map[string]string{
		{"CAIRN_CORS_ORIGINS": "*", "CAIRN_CORS_METHODS": "PATCH"},
		{"CAIRN_CORS_ORIGINS": "*", "CAIRN_CORS_MAX_AGE": "soon"},
		{"CAIRN_CORS_ORIGINS": "**"},
	} {
		if _, err := corsFromEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
