package invoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// Fuzz targets for the codec. `go test` runs their seeds (the f.Add calls
// and testdata/fuzz/<Name>/); `make fuzz` searches beyond them.

const fuzzLimit = 64 << 10

// fuzzDecodeSeeds are invocations as the host posts them: the examples of
// DESIGN.md section 3 and Microsoft's custom-handler page, the older
// host's string-encoded metadata, and the edges of the envelope.
var fuzzDecodeSeeds = []string{
	`{"Data":{"myQueueItem":"\"hello\""},"Metadata":{"DequeueCount":"1","sys":{"MethodName":"QueueTrigger","UtcNow":"2019-05-27T11:18:33.0937517Z","RandGuid":"b6a0b8b0-0d6c-4d2b-8a8e-2d2f3c4b5a6e"}}}`,
	`{"Data":{"message":"\"{\\\"recordingId\\\":\\\"rec_0123456789abcdef01234567\\\",\\\"projectId\\\":\\\"pr_0123456789abcdef01234567\\\",\\\"analysisId\\\":\\\"an_0123456789abcdef01234567\\\"}\""},"Metadata":{"DeliveryCount":"1","MessageId":"\"an_0123456789abcdef01234567\"","SequenceNumber":"7","EnqueuedTimeUtc":"2026-03-02T10:15:30","sys":{"MethodName":"RunAnalysis","UtcNow":"2026-03-02T10:15:31Z","RandGuid":"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"}}}`,
	`{"Data":{"message":"\"x\""},"Metadata":{"sys":"{\"MethodName\":\"DeleteData\",\"UtcNow\":\"2026-03-02T10:15:31\"}","DeliveryCount":"\"3\"","MessageId":"m","UserProperties":"{\"reason\":\"retention\"}"}}`,
	`{"Data":{"message":"\"\\\"\\\\\\\"nested\\\\\\\"\\\"\""},"Metadata":{"DeliveryCount":"-1","MessageId":"\"m\""}}`,
	`{"Data":{"event":"{\"id\":\"e\",\"eventType\":\"Microsoft.Storage.BlobCreated\",\"data\":\"{\\\"contentLength\\\":1}\"}"},"Metadata":{}}`,
	`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"RetentionSweep","UtcNow":"2026-03-02T07:12:04.0345678Z","RandGuid":"e"}}}`,
	`{"Data":{"bytes":"aGVsbG8="},"Metadata":{"DeliveryCount":"99999999999999999999","MessageId":1}}`,
	`{}`, `{"Data":null,"Metadata":null}`, `{"data":{"A":1},"DATA":{"a":2}}`, ` {"Data":{}} `, `{"Data":{}} {}`, `[]`, `"x"`, ``,
}

// FuzzDecode posts arbitrary bytes as an invocation. Decode either refuses
// them or returns a request on which every accessor keeps its contract:
// no panic, typed errors (ErrMissing, ErrTooLarge), Service Bus metadata
// with a DeliveryCount of at least 0, a BlobCreated only for that event
// type; and decoding the request's own JSON again reads the same values.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"eventgrid-blobcreated.json", "servicebus.json", "timer.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range fuzzDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if n := len(body); n > 1 {
			if _, err := Decode(bytes.NewReader(body), int64(n-1)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode with a limit of %d for %d bytes: %v, want ErrTooLarge", n-1, n, err)
			}
		}
		req, err := Decode(bytes.NewReader(body), fuzzLimit)
		if err != nil {
			return
		}
		if req.Data == nil || req.Metadata == nil {
			t.Fatalf("Decode: nil Data or Metadata: %+v", req)
		}
		checkRequest(t, req)
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("marshal the decoded request: %v", err)
		}
		req2, err := Decode(bytes.NewReader(again), fuzzLimit*8)
		if err != nil {
			t.Fatalf("Decode(its own JSON %s): %v", again, err)
		}
		sameAccessors(t, req, req2)
	})
}

// checkRequest calls every accessor on the binding names the handlers use
// and on some of the request's own names (a few: each lookup that misses
// sorts the keys, so all of them would make a large input quadratic).
func checkRequest(t *testing.T, req *Request) {
	t.Helper()
	names := []string{"event", "message", "timer", "sys", "MessageId", "DeliveryCount"}
	for _, m := range []map[string]json.RawMessage{req.Data, req.Metadata} {
		keys := sortedKeys(m)
		names = append(names, keys[:min(len(keys), 8)]...)
	}
	for _, name := range names {
		bindAll(t, req, name)
	}
	req.Sys()
	meta, err := req.ServiceBus()
	switch _, hasID := lookup(req.Metadata, "MessageId"); {
	case err == nil && meta.DeliveryCount < 0:
		t.Fatalf("ServiceBus() = DeliveryCount %d, want an error for a negative count", meta.DeliveryCount)
	case !hasID && !errors.Is(err, ErrMissing):
		t.Fatalf("ServiceBus() without MessageId: %v, want ErrMissing", err)
	}
}

// bindAll decodes req's value of name into every type the handlers use and
// checks what each decode promises.
func bindAll(t *testing.T, req *Request, name string) {
	t.Helper()
	_, inData := lookup(req.Data, name)
	var raw json.RawMessage
	err := req.Bind(name, &raw)
	if errors.Is(err, ErrMissing) == inData {
		t.Fatalf("Bind(%q): %v, but the name is in Data: %v", name, err, inData)
	}
	if err == nil && !json.Valid(raw) {
		t.Fatalf("Bind(%q, *json.RawMessage) = %q: not JSON", name, raw)
	}
	var s string
	if err := req.Bind(name, &s); err == nil && !utf8.ValidString(s) {
		t.Fatalf("Bind(%q, *string) = %q: not UTF-8", name, s)
	}
	var tm time.Time
	if err := req.Meta(name, &tm); err == nil && tm.Location() != time.UTC {
		t.Fatalf("Meta(%q, *time.Time) = %v: not UTC", name, tm)
	}
	var ev EventGridEvent
	if req.Bind(name, &ev) == nil {
		if _, err := ev.BlobCreated(); err == nil && ev.EventType != BlobCreatedType {
			t.Fatalf("BlobCreated() of a %q event succeeded", ev.EventType)
		}
	}
	for _, v := range []any{new([]byte), new(any), new(int), new(int64), new(bool), new(TimerInfo), new(map[string]any), new(BlobCreatedData)} {
		req.Bind(name, v)
		req.Meta(name, v)
	}
}

// sameAccessors checks that two requests read the same through the
// accessors that do not keep raw bytes.
func sameAccessors(t *testing.T, a, b *Request) {
	t.Helper()
	if diff := cmp.Diff(a.Sys(), b.Sys()); diff != "" {
		t.Fatalf("Sys() changed on re-encoding (-first +second):\n%s", diff)
	}
	m1, err1 := a.ServiceBus()
	m2, err2 := b.ServiceBus()
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("ServiceBus() on re-encoding: %v, then %v", err1, err2)
	}
	if diff := cmp.Diff(m1, m2); diff != "" {
		t.Fatalf("ServiceBus() changed on re-encoding (-first +second):\n%s", diff)
	}
	for k := range a.Data {
		var v1, v2 any
		e1, e2 := a.Bind(k, &v1), b.Bind(k, &v2)
		if (e1 == nil) != (e2 == nil) || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("Bind(%q, *any) changed on re-encoding: %v (%v), then %v (%v)", k, v1, e1, v2, e2)
		}
	}
}

// FuzzBindValue decodes one arbitrary JSON value as a Data or Metadata
// value, and checks the host's encodings come back as sent: bytes as
// base64, and a JSON object or array sent as a string (how a Service Bus
// body arrives) as the same bytes, whether bound as []byte, RawMessage, a
// struct or any.
func FuzzBindValue(f *testing.F) {
	for _, s := range []string{
		`"\"{\\\"a\\\":1}\""`, `"\"x\""`, `"aGVsbG8="`, `{"a": 1}`, `[1, "2"]`, `"3"`, `3`, `null`, `""`, `"null"`,
		`"2026-03-02T10:15:30"`, `"\"2026-03-02T10:15:30+02:00\""`, `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-03-01T22:00:00.0123456+00:00"},"IsPastDue":true}`,
		`{"id":"e","eventType":"Microsoft.Storage.BlobCreated","eventTime":"2017-06-26T18:41:00.9584103Z","data":{"eTag":"\"0x8D\"","contentLength":524288}}`,
		` {"recordingId":"r <1> & \"2\"","n":1} `, `"\u2028"`, `"\"\\\"\\\\\\\"deep\\\\\\\"\\\"\""`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b []byte
		wire := json.RawMessage(quote(base64.StdEncoding.EncodeToString(raw)))
		if err := decodeValue(wire, &b); err != nil || !bytes.Equal(b, raw) {
			t.Fatalf("bytes %q sent as base64 %s came back as %q, %v", raw, wire, b, err)
		}
		if !json.Valid(raw) {
			return // Decode hands Bind valid JSON only
		}
		req := &Request{Data: map[string]json.RawMessage{"v": raw}, Metadata: map[string]json.RawMessage{"v": raw}}
		bindAll(t, req, "v")
		EventGridEvent{EventType: BlobCreatedType, Data: raw}.BlobCreated()
		trimmed := bytes.TrimSpace(raw)
		if !utf8.Valid(raw) || (trimmed[0] != '{' && trimmed[0] != '[') {
			return
		}
		checkTextBody(t, raw, trimmed)
	})
}

// checkTextBody sends a JSON object or array as a string body and checks
// each way of binding it gets the JSON itself.
func checkTextBody(t *testing.T, raw, trimmed []byte) {
	t.Helper()
	wire := json.RawMessage(quote(string(raw)))
	var b []byte
	if err := decodeValue(wire, &b); err != nil || !bytes.Equal(b, trimmed) {
		t.Fatalf("body %s sent as a string, bound as []byte: %q, %v", raw, b, err)
	}
	var rm json.RawMessage
	if err := decodeValue(wire, &rm); err != nil || !bytes.Equal(rm, trimmed) {
		t.Fatalf("body %s sent as a string, bound as RawMessage: %s, %v", raw, rm, err)
	}
	var direct, viaBind any
	json.Unmarshal(raw, &direct)
	if err := decodeValue(wire, &viaBind); err != nil || !reflect.DeepEqual(direct, viaBind) {
		t.Fatalf("body %s sent as a string, bound as any: %v, %v; want %v", raw, viaBind, err, direct)
	}
	var ev1, ev2 EventGridEvent
	e1, e2 := json.Unmarshal(raw, &ev1), decodeValue(wire, &ev2)
	if (e1 == nil) != (e2 == nil) || !cmp.Equal(ev1, ev2) {
		t.Fatalf("body %s sent as a string, bound as a struct: %+v (%v), want %+v (%v)", raw, ev2, e2, ev1, e1)
	}
}

// wireString is s as the host's writer spells it: each byte that is not
// UTF-8 becomes U+FFFD.
func wireString(s string) string { return string([]rune(s)) }

// fuzzTime maps any two integers to a time the host can write: years 1 to
// 9999, to the 100 ns the host keeps.
func fuzzTime(secs, nanos int64) time.Time {
	const first, last = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59
	s := first + int64(uint64(secs)%uint64(last-first+1))
	return time.Unix(s, int64(uint64(nanos)%1e9)).UTC().Truncate(100 * time.Nanosecond)
}

// FuzzHostRoundTrip writes invocations with the host stand-in's generators
// from arbitrary values and reads them back with the decoder: what the
// stand-in sends is what a handler reads, for Service Bus (body,
// metadata, properties), Event Grid (the event and its blob data) and
// timers.
func FuzzHostRoundTrip(f *testing.F) {
	f.Add("5d6c0e8a2f3b4c1d9e7f6a5b4c3d2e1f", "kind", "analysis", "rec-7f3a", 2, int64(42), int64(1772446530), int64(987000000), true)
	f.Add("an_0123456789abcdef01234567", "reason", "retention", "r <1> & \"2\"", 1, int64(1<<40), int64(0), int64(0), false)
	f.Add("", "", "", "", 0, int64(-1), int64(-62135596800), int64(-1), false)
	f.Add("\"quoted\"", "a\u2028b", "\x00\x1f\u0085", "2026-03-02T10:15:29Z", -1, int64(0), int64(253402300799), int64(999999999), true)
	f.Fuzz(func(t *testing.T, id, key, val, text string, count int, seq, secs, nanos int64, pastDue bool) {
		tm := fuzzTime(secs, nanos)
		checkServiceBusRoundTrip(t, facet.Delivery{
			Message:       facet.Message{ID: id, Properties: map[string]string{key: val}},
			DeliveryCount: count, SequenceNumber: seq, EnqueuedTime: tm,
		}, text)
		checkEventGridRoundTrip(t, id, key, val, text, seq, tm)
		checkTimerRoundTrip(t, tm, fuzzTime(seq, secs), pastDue)
	})
}

func checkServiceBusRoundTrip(t *testing.T, d facet.Delivery, text string) {
	t.Helper()
	d.Body, _ = json.Marshal(map[string]string{"recordingId": text})
	body, err := ServiceBusInvocation("message", d, d.EnqueuedTime)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(bytes.NewReader(body), fuzzLimit)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	var raw json.RawMessage
	if err := req.Bind("message", &raw); err != nil || !bytes.Equal(raw, d.Body) {
		t.Fatalf("body %s came back as %s, %v", d.Body, raw, err)
	}
	meta, err := req.ServiceBus()
	if d.DeliveryCount < 0 {
		if err == nil {
			t.Fatalf("ServiceBus() accepted DeliveryCount %d", d.DeliveryCount)
		}
		return
	}
	if err != nil {
		t.Fatalf("ServiceBus() of %s: %v", body, err)
	}
	want := ServiceBusMeta{
		MessageID: d.ID, DeliveryCount: d.DeliveryCount, SequenceNumber: d.SequenceNumber,
		EnqueuedTimeUtc: d.EnqueuedTime.Truncate(time.Second), ApplicationProperties: map[string]any{},
	}
	for k, v := range d.Properties {
		want.ApplicationProperties[wireString(k)] = wireString(v)
	}
	if !utf8.ValidString(d.ID) || isJSONString(bytes.TrimSpace([]byte(d.ID))) {
		// Invalid UTF-8 is replaced on the way; an id that is itself a
		// JSON string is peeled like the host's own quoting (see Bind).
		want.MessageID = meta.MessageID
	}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Fatalf("ServiceBus() of %s (-sent +read):\n%s", body, diff)
	}
}

func checkEventGridRoundTrip(t *testing.T, id, key, val, text string, n int64, tm time.Time) {
	t.Helper()
	valid := wireString
	data := BlobCreatedData{API: "PutBlob", ETag: valid(text), ContentLength: n, URL: valid(val), Sequencer: valid(key)}
	raw, _ := json.Marshal(data)
	ev := EventGridEvent{ID: valid(id), Topic: valid(key), Subject: valid(val), EventType: BlobCreatedType, EventTime: tm, Data: raw, MetadataVersion: "1"}
	body, err := EventGridInvocation("event", ev, tm)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(bytes.NewReader(body), fuzzLimit)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	var got EventGridEvent
	if err := req.Bind("event", &got); err != nil {
		t.Fatalf("Bind(event) of %s: %v", body, err)
	}
	gotData, err := got.BlobCreated()
	if err != nil || gotData != data {
		t.Fatalf("BlobCreated() of %s = %+v, %v; want %+v", body, gotData, err, data)
	}
	got.Data, ev.Data = nil, nil // compared as values above; the bytes are re-encoded
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Fatalf("event of %s (-sent +read):\n%s", body, diff)
	}
	if s := req.Sys(); !s.UtcNow.Equal(tm) {
		t.Fatalf("Sys().UtcNow = %v, want %v", s.UtcNow, tm)
	}
}

func checkTimerRoundTrip(t *testing.T, last, next time.Time, pastDue bool) {
	t.Helper()
	sent := TimerInfo{Schedule: json.RawMessage(`{"AdjustForDST":true}`), ScheduleStatus: &ScheduleStatus{Last: last, Next: next, LastUpdated: last}, IsPastDue: pastDue}
	body, err := TimerInvocation("timer", sent, last)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(bytes.NewReader(body), fuzzLimit)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	var got TimerInfo
	if err := req.Bind("timer", &got); err != nil {
		t.Fatalf("Bind(timer) of %s: %v", body, err)
	}
	if diff := cmp.Diff(sent, got); diff != "" {
		t.Fatalf("timer of %s (-sent +read):\n%s", body, diff)
	}
}
