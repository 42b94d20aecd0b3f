package cosmosdb

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeItem holds decodeItem to encoding/json's reading of the same
// bytes: the same members but the system properties, the same values.
func TestDecodeItem(t *testing.T) {
	for _, doc := range []string{
		`{"id":"a","_rid":"x==","pk":"p","_etag":"\"0x1\"","_ts":1700000000,"_self":"dbs/x/","_attachments":"attachments/"}`,
		`{"_etag":"\"e\"","id":"b","n":-1.5e3,"t":true,"f":false,"z":null,"s":"with \"quotes\", {braces} and [brackets] \\ and \u00e9"}`,
		` { "id" : "c" , "nested" : {"a":[1,{"b":"}"}],"_rid":"kept: not top-level"}, "arr":[[],{}] ,"_lsn": 7 } `,
		`{"id":"d","emoji":"😀","esc\"key":1}`,
		`{}`,
		`{"_rid":"only system"}`,
	} {
		it, err := decodeItem([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var want, got map[string]any
		json.Unmarshal([]byte(doc), &want)
		for _, p := range systemProps {
			delete(want, p)
		}
		if err := json.Unmarshal(it.json, &got); err != nil {
			t.Fatalf("%s: output %s is not JSON: %v", doc, it.json, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %v", doc, it.json, want)
		}
		if keys := slicesSorted(maps.Keys(it.fields)); !reflect.DeepEqual(keys, slicesSorted(maps.Keys(want))) {
			t.Errorf("%s: fields %v", doc, keys)
		}
		if strings.Contains(doc, `"_etag":"\"0x1\""`) && it.etag != `"0x1"` {
			t.Errorf("etag %q", it.etag)
		}
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":`, ``, `null`} {
		if _, err := decodeItem([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func slicesSorted(seq func(func(string) bool)) []string {
	var s []string
	for k := range seq {
		s = append(s, k)
	}
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func BenchmarkDecodeItem(b *testing.B) {
	doc := []byte(`{"id":"pr_0123456789abcdef01234567","clientId":"cl_0123456789abcdef01234567","name":"Trailer test","status":"open","privacyMode":"retain","useContext":"media-testing","settings":{"sampleFps":5,"models":"default","maxDurationS":600,"maxUploadBytes":524288000,"deletionGraceS":0,"maxRetentionDays":90},"consent":{"version":"facet-default-1","text":"` + strings.Repeat(`You agree to be recorded.\n`, 40) + `"},"createdAt":"2026-12-03T10:00:00Z","updatedAt":"2026-12-03T10:00:00Z","usage":{"day":"0001-01-01T00:00:00Z","invitations":0},"_rid":"abc==","_self":"dbs/abc==/colls/def==/docs/ghi==/","_etag":"\"0000d0-0000-0000-0000-000000000000\"","_attachments":"attachments/","_ts":1764756000}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeItem(doc); err != nil {
			b.Fatal(err)
		}
	}
}
