package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// xmlListPage is the reference: what encoding/xml makes of a listing.
type xmlListPage struct {
	Contents []struct {
		Key string `xml:"Key"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
}

func (r xmlListPage) page() listPage {
	p := listPage{IsTruncated: r.IsTruncated, NextContinuationToken: r.NextContinuationToken}
	for _, c := range r.Contents {
		p.Keys = append(p.Keys, c.Key)
	}
	for _, c := range r.CommonPrefixes {
		p.Prefixes = append(p.Prefixes, c.Prefix)
	}
	return p
}

// samplePage writes a listing of keys and prefixes as the gateway does.
func samplePage(keys, prefixes []string, truncated bool, token string) []byte {
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString(xml.Header + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>`)
	fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>%v</IsTruncated>",
		esc(token), len(keys)+len(prefixes), truncated)
	for _, k := range keys {
		fmt.Fprintf(&b, `<Contents><Key>%s</Key><LastModified>2026-11-30T11:22:29.410Z</LastModified><ETag>&#34;93b885adfe0da089cdf634904fd59f71&#34;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>`, esc(k))
	}
	for _, p := range prefixes {
		fmt.Fprintf(&b, "<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>", esc(p))
	}
	b.WriteString("</ListBucketResult>")
	return b.Bytes()
}

// checkListPage fails when parseListPage and encoding/xml both accept b
// but disagree.
func checkListPage(t *testing.T, b []byte) (accepted bool) {
	got, err := parseListPage(b)
	var ref xmlListPage
	xerr := xml.Unmarshal(b, &ref)
	if err != nil || xerr != nil {
		return err == nil
	}
	if want := ref.page(); !reflect.DeepEqual(got, want) {
		t.Fatalf("parseListPage(%q)\n = %+v\nencoding/xml: %+v", b, got, want)
	}
	return true
}

func TestParseListPage(t *testing.T) {
	keys := []string{"dir/a", "a&b<c>\"d'", "sp ace\ttab\nnl", "ünï€😀", "\r\n x \r"}
	b := samplePage(keys, []string{"p/", "q&/"}, true, "dG9rZW4=")
	p, err := parseListPage(b)
	if err != nil {
		t.Fatal(err)
	}
	want := keys // escaped as &#xD; and &#xA;, line ends survive
	if !reflect.DeepEqual(p.Keys, want) || !reflect.DeepEqual(p.Prefixes, []string{"p/", "q&/"}) || !p.IsTruncated || p.NextContinuationToken != "dG9rZW4=" {
		t.Fatalf("got %+v", p)
	}
	if !checkListPage(t, b) {
		t.Fatal("sample page rejected")
	}
	for _, s := range []string{
		`<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a<!-- c -->b<![CDATA[<&>]]></Key></Contents><Contents/></ListBucketResult>`,
		`<s3:ListBucketResult xmlns:s3="x"><s3:Contents a='>' b=">"><s3:Key>k</s3:Key><Key>k2</Key></s3:Contents></s3:ListBucketResult>`,
		`<ListBucketResult><Contents><Key>&#x1F600;&#65;</Key></Contents></ListBucketResult>`,
	} {
		if !checkListPage(t, []byte(s)) {
			t.Errorf("rejected %s", s)
		}
	}
	for _, s := range []string{
		``, `<ListBucketResult>`, `<ListBucketResult></Contents>`, `<Error><Code>x</Code></Error>`,
		`<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>`,
		`<ListBucketResult><Contents><Key>&#0;</Key></Contents></ListBucketResult>`,
		`<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>`,
		`<ListBucketResult><Key a="></ListBucketResult>`,
		"<ListBucketResult><Key>\xff</Key></ListBucketResult>",
		`<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>`,
	} {
		if _, err := parseListPage([]byte(s)); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// The encoding/xml client (--xml std) reads the same page the same way.
func TestParseListPageStd(t *testing.T) {
	keys := []string{"dir/a", "a&b<c>\"d'", "ünï€😀"}
	b := samplePage(keys, []string{"p/"}, true, "dG9rZW4=")
	p, err := parseListPageStd(b)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := parseListPage(b)
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("std %+v, scanner %+v", p, q)
	}
	if _, err := parseListPageStd([]byte(`<ListBucketResult><Contents>`)); !errors.Is(err, errListXML) {
		t.Fatalf("truncated page: %v", err)
	}
}

func FuzzParseListPage(f *testing.F) {
	f.Add(samplePage([]string{"a", "b&c"}, []string{"p/"}, true, "t"), "k", "p")
	f.Add([]byte(`<ListBucketResult><Contents><Key>a<!-- c -->b<![CDATA[x]]></Key></Contents></ListBucketResult>`), "", "")
	f.Fuzz(func(t *testing.T, doc []byte, key, prefix string) {
		checkListPage(t, doc) // arbitrary documents: no panic, no disagreement
		if !strings.ContainsRune(key, 0xFFFD) && !strings.ContainsRune(prefix, 0xFFFD) {
			b := samplePage([]string{key}, []string{prefix}, false, key)
			p, err := parseListPage(b)
			var ref xmlListPage
			if xerr := xml.Unmarshal(b, &ref); xerr == nil && (err != nil || !reflect.DeepEqual(p, ref.page())) {
				t.Fatalf("key %q prefix %q: %+v, %v; encoding/xml %+v", key, prefix, p, err, ref.page())
			}
		}
	})
}

func BenchmarkParseListPage(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("dir/%08d", i)
	}
	page := samplePage(keys, nil, true, "token")
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		if p, err := parseListPage(page); err != nil || len(p.Keys) != 1000 {
			b.Fatal(err)
		}
	}
}
