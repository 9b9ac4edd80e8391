package s3err

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteXML(t *testing.T) {
	rec := httptest.NewRecorder()
	e := New(NoSuchKey)
	e.Resource, e.RequestID = "/b/k", "REQ1"
	e.With("Key", "k")
	e.WriteXML(rec, http.MethodGet)
	if rec.Code != 404 || rec.Header().Get("x-amz-request-id") != "REQ1" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	var got struct {
		Code, Message, Key, Resource, RequestId string
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Code != "NoSuchKey" || got.Key != "k" || got.Resource != "/b/k" || got.RequestId != "REQ1" || got.Message == "" {
		t.Fatalf("body %+v", got)
	}
	rec = httptest.NewRecorder()
	e.WriteXML(rec, http.MethodHead)
	if rec.Code != 404 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body.String())
	}
	if s := e.Error(); strings.Contains(s, "<") {
		t.Fatalf("Error() is XML: %s", s)
	}
}

func TestTable(t *testing.T) {
	for code, info := range table {
		if info.status < 300 || info.status > 599 || info.message == "" {
			t.Errorf("%s: %+v", code, info)
		}
	}
	if Code("Bogus").Status() != 500 {
		t.Error("unknown code is not 500")
	}
}
