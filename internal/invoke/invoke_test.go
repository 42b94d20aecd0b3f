package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func decodeFixture(t *testing.T, name string) *Request {
	t.Helper()
	req, err := Decode(bytes.NewReader(fixture(t, name)), 1<<20)
	if err != nil {
		t.Fatalf("Decode(%s): %v", name, err)
	}
	return req
}

// fixedGUIDs makes newGUID return ids in order, so generated bodies can be
// compared with the fixtures byte for byte.
func fixedGUIDs(t *testing.T, ids ...string) {
	t.Helper()
	saved := newGUID
	t.Cleanup(func() { newGUID = saved })
	newGUID = func() (string, error) {
		if len(ids) == 0 {
			t.Fatal("more GUIDs asked for than the test provided")
		}
		id := ids[0]
		ids = ids[1:]
		return id, nil
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const sbBody = `{"recordingId":"rec-7f3a","projectId":"prj-19c2","attempt":2,"settings":{"fps":5},"models":["default"],"requestedAt":"2026-03-02T10:15:29Z"}`

const blobData = `{"api":"PutBlockList","clientRequestId":"6d79dbfb-0e37-4fc4-981f-442c9ca65760","requestId":"831e1650-001e-001b-66ab-eeb76e000000","eTag":"\"0x8D4BCC2E4835CD0\"","contentType":"text/plain","contentLength":524288,"blobType":"BlockBlob","url":"https://my-storage-account.blob.core.windows.net/testcontainer/new-file.txt","sequencer":"00000000000004420000000000028963","storageDiagnostics":{"batchId":"b68529f3-68cd-4744-baa4-3c0498ec19f0"}}`

func TestEventGridFixture(t *testing.T) {
	req := decodeFixture(t, "eventgrid-blobcreated.json")
	var ev EventGridEvent
	if err := req.Bind("event", &ev); err != nil {
		t.Fatal(err)
	}
	want := EventGridEvent{
		ID:              "831e1650-001e-001b-66ab-eeb76e069631",
		Topic:           "/subscriptions/{subscription-id}/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/my-storage-account",
		Subject:         "/blobServices/default/containers/test-container/blobs/new-file.txt",
		EventType:       BlobCreatedType,
		EventTime:       mustTime(t, "2017-06-26T18:41:00.9584103Z"),
		Data:            json.RawMessage(blobData),
		DataVersion:     "",
		MetadataVersion: "1",
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	data, err := ev.BlobCreated()
	if err != nil {
		t.Fatal(err)
	}
	wantData := BlobCreatedData{
		API:             "PutBlockList",
		ClientRequestID: "6d79dbfb-0e37-4fc4-981f-442c9ca65760",
		RequestID:       "831e1650-001e-001b-66ab-eeb76e000000",
		ETag:            `"0x8D4BCC2E4835CD0"`,
		ContentType:     "text/plain",
		ContentLength:   524288,
		BlobType:        "BlockBlob",
		URL:             "https://my-storage-account.blob.core.windows.net/testcontainer/new-file.txt",
		Sequencer:       "00000000000004420000000000028963",
	}
	if diff := cmp.Diff(wantData, data); diff != "" {
		t.Errorf("blob created (-want +got):\n%s", diff)
	}
	var metaData BlobCreatedData
	if err := req.Meta("data", &metaData); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantData, metaData); diff != "" {
		t.Errorf("Metadata.data (-want +got):\n%s", diff)
	}
	wantSys := Sys{MethodName: "AnalyzeRecording", UtcNow: mustTime(t, "2017-06-26T18:41:01.2345678Z"), RandGuid: "3f2b8c1e-9d4a-4e6b-8f0c-5a7d2e1b9c30"}
	if diff := cmp.Diff(wantSys, req.Sys()); diff != "" {
		t.Errorf("sys (-want +got):\n%s", diff)
	}
}

func TestBlobCreatedRefuses(t *testing.T) {
	tests := []struct {
		name string
		ev   EventGridEvent
		want string
	}{
		{"other type", EventGridEvent{ID: "e1", EventType: "Microsoft.Storage.BlobDeleted", Data: json.RawMessage(blobData)}, `invoke: blob created: event e1 has type "Microsoft.Storage.BlobDeleted"`},
		{"no data", EventGridEvent{ID: "e2", EventType: BlobCreatedType}, "invoke: blob created: event e2 has no data"},
		{"bad data", EventGridEvent{ID: "e3", EventType: BlobCreatedType, Data: json.RawMessage(`{"contentLength":"big"}`)}, "invoke: blob created: event e3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ev.BlobCreated()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("BlobCreated() = %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestServiceBusFixture(t *testing.T) {
	req := decodeFixture(t, "servicebus.json")

	var body struct {
		RecordingID string `json:"recordingId"`
		ProjectID   string `json:"projectId"`
		Attempt     int    `json:"attempt"`
		Models      []string
	}
	if err := req.Bind("message", &body); err != nil {
		t.Fatal(err)
	}
	if body.RecordingID != "rec-7f3a" || body.ProjectID != "prj-19c2" || body.Attempt != 2 || len(body.Models) != 1 {
		t.Errorf("body = %+v", body)
	}
	var raw json.RawMessage
	if err := req.Bind("message", &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw) != sbBody {
		t.Errorf("body as RawMessage = %s, want %s", raw, sbBody)
	}
	var b []byte
	if err := req.Bind("message", &b); err != nil {
		t.Fatal(err)
	}
	if string(b) != sbBody {
		t.Errorf("body as bytes = %s, want %s", b, sbBody)
	}

	meta, err := req.ServiceBus()
	if err != nil {
		t.Fatal(err)
	}
	want := ServiceBusMeta{
		MessageID:             "5d6c0e8a2f3b4c1d9e7f6a5b4c3d2e1f",
		DeliveryCount:         2,
		SequenceNumber:        42,
		EnqueuedTimeUtc:       time.Date(2026, 3, 2, 10, 15, 30, 0, time.UTC),
		ApplicationProperties: map[string]any{"kind": "analysis"},
	}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("ServiceBus() (-want +got):\n%s", diff)
	}

	// What the host copies from a JSON body into Metadata.
	copies := []struct {
		key  string
		want string
	}{
		{"recordingId", "rec-7f3a"},
		{"attempt", "2"},
		{"requestedAt", "03/02/2026 10:15:29"},
	}
	for _, c := range copies {
		var got string
		if err := req.Meta(c.key, &got); err != nil || got != c.want {
			t.Errorf("Meta(%q) = %q, %v; want %q", c.key, got, err, c.want)
		}
	}
	if err := req.Meta("models", new(any)); !errors.Is(err, ErrMissing) {
		t.Errorf("Meta(models) = %v, want ErrMissing: the host skips arrays", err)
	}
	if got := req.Sys().MethodName; got != "RunAnalysis" {
		t.Errorf("sys.MethodName = %q", got)
	}
}

func TestTimerFixture(t *testing.T) {
	req := decodeFixture(t, "timer.json")
	var got TimerInfo
	if err := req.Bind("timer", &got); err != nil {
		t.Fatal(err)
	}
	want := TimerInfo{
		Schedule: json.RawMessage(`{"AdjustForDST":true}`),
		ScheduleStatus: &ScheduleStatus{
			Last:        mustTime(t, "2026-03-01T22:00:00.0123456+00:00"),
			Next:        mustTime(t, "2026-03-01T23:00:00+00:00"),
			LastUpdated: mustTime(t, "2026-03-01T22:00:00.0123456+00:00"),
		},
		IsPastDue: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timer (-want +got):\n%s", diff)
	}
	if len(req.Metadata) != 1 || req.Sys().MethodName != "RetentionSweep" {
		t.Errorf("Metadata = %v, want sys only", req.Metadata)
	}
}

func TestBind(t *testing.T) {
	type ab struct{ A int }
	tests := []struct {
		name string
		raw  string // Data["v"] as it arrives
		into any    // pointer to a zero value of the target type
		want any
	}{
		{"host-encoded string", `"\"hello\""`, new(string), "hello"},
		{"plain string", `"hello"`, new(string), "hello"},
		{"string body holding JSON, as text", `"\"{\\\"a\\\":1}\""`, new(string), `{"a":1}`},
		{"digits stay text", `"\"12345\""`, new(string), "12345"},
		{"object", `{"A":1}`, new(ab), ab{1}},
		{"string holding an object", `"{\"A\":1}"`, new(ab), ab{1}},
		{"string body holding an object", `"\"{\\\"A\\\":1}\""`, new(ab), ab{1}},
		{"number as string", `"3"`, new(int), 3},
		{"number as string twice", `"\"3\""`, new(int64), int64(3)},
		{"plain number", `3`, new(int), 3},
		{"any: innermost object", `"\"{\\\"a\\\":1}\""`, new(any), map[string]any{"a": 1.0}},
		{"any: digits stay a string", `"\"12345\""`, new(any), "12345"},
		{"raw message: innermost array", `"\"[1,2]\""`, new(json.RawMessage), json.RawMessage(`[1,2]`)},
		{"raw message: object as is", `{"a": 1}`, new(json.RawMessage), json.RawMessage(`{"a": 1}`)},
		{"bytes: base64", `"AAEC/w=="`, new([]byte), []byte{0, 1, 2, 255}},
		{"bytes: host-encoded text", `"\"hello\""`, new([]byte), []byte("hello")},
		{"bytes: string body holding JSON", `"\"{\\\"a\\\":1}\""`, new([]byte), []byte(`{"a":1}`)},
		{"bytes: object", `{"a": 1}`, new([]byte), []byte(`{"a": 1}`)},
		{"bytes: null", `null`, new([]byte), []byte(nil)},
		{"time without zone is UTC", `"2026-03-02T10:15:30"`, new(time.Time), time.Date(2026, 3, 2, 10, 15, 30, 0, time.UTC)},
		{"time encoded twice", `"\"2026-03-02T10:15:30.5+01:00\""`, new(time.Time), time.Date(2026, 3, 2, 9, 15, 30, 5e8, time.UTC)},
		{"map as string", `"{\"k\":\"v\"}"`, new(map[string]string), map[string]string{"k": "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Data: map[string]json.RawMessage{"v": json.RawMessage(tt.raw)}}
			if err := req.Bind("v", tt.into); err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(tt.into).Elem().Interface()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Bind(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestBindErrors(t *testing.T) {
	req := &Request{Data: map[string]json.RawMessage{
		"bad64": json.RawMessage(`"!!!"`),
		"text":  json.RawMessage(`"\"hello\""`),
	}}
	tests := []struct {
		name    string
		binding string
		into    any
		want    string
		is      error
	}{
		{"missing", "nope", new(string), `invoke: bind "nope": not in the request`, ErrMissing},
		{"not base64", "bad64", new([]byte), `invoke: bind "bad64": bytes are neither base64 nor JSON text`, nil},
		{"text into struct", "text", new(struct{ A int }), `invoke: bind "text": json: cannot unmarshal`, nil},
		{"not a pointer", "text", "", `invoke: bind "text": cannot decode into string: need a pointer`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := req.Bind(tt.binding, tt.into)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Bind() = %v, want an error starting %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Bind() = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	t.Run("sys as a string, as older hosts send it", func(t *testing.T) {
		req := &Request{Metadata: map[string]json.RawMessage{
			"sys": json.RawMessage(`"{\"MethodName\":\"QueueTrigger\",\"UtcNow\":\"2019-10-09T17:58:32.2205399Z\",\"RandGuid\":\"24ad4c06-24ad-4e5b-8294-3da9714877e9\"}"`),
		}}
		want := Sys{MethodName: "QueueTrigger", UtcNow: mustTime(t, "2019-10-09T17:58:32.2205399Z"), RandGuid: "24ad4c06-24ad-4e5b-8294-3da9714877e9"}
		if diff := cmp.Diff(want, req.Sys()); diff != "" {
			t.Errorf("Sys() (-want +got):\n%s", diff)
		}
	})
	t.Run("no sys", func(t *testing.T) {
		if diff := cmp.Diff(Sys{}, (&Request{}).Sys()); diff != "" {
			t.Errorf("Sys() (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name string
		meta map[string]string
		want ServiceBusMeta
		err  string
	}{
		{
			name: "plain JSON, sub-object as a string, fallbacks, other case",
			meta: map[string]string{
				"messageid":      `"m-1"`,
				"DeliveryCount":  `5`,
				"SequenceNumber": `"\"7\""`,
				"EnqueuedTime":   `"2026-03-02T10:15:30+02:00"`,
				"ContentType":    `"\"application/json\""`,
				"CorrelationId":  `"\"c-9\""`,
				"UserProperties": `"{\"n\":1,\"ok\":true}"`,
			},
			want: ServiceBusMeta{
				MessageID: "m-1", DeliveryCount: 5, SequenceNumber: 7,
				EnqueuedTimeUtc: time.Date(2026, 3, 2, 8, 15, 30, 0, time.UTC),
				ContentType:     "application/json", CorrelationID: "c-9",
				ApplicationProperties: map[string]any{"n": 1.0, "ok": true},
			},
		},
		{
			name: "no DeliveryCount",
			meta: map[string]string{"MessageId": `"\"m-1\""`},
			err:  `invoke: service bus metadata "DeliveryCount": not in the request`,
		},
		{
			name: "DeliveryCount not a number",
			meta: map[string]string{"MessageId": `"\"m-1\""`, "DeliveryCount": `"\"many\""`},
			err:  `invoke: service bus metadata "DeliveryCount": `,
		},
		{
			name: "bad time",
			meta: map[string]string{"MessageId": `"\"m-1\""`, "DeliveryCount": `"1"`, "EnqueuedTimeUtc": `"yesterday"`},
			err:  `invoke: service bus metadata "EnqueuedTimeUtc": time "yesterday" is not ISO 8601`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Metadata: map[string]json.RawMessage{}}
			for k, v := range tt.meta {
				req.Metadata[k] = json.RawMessage(v)
			}
			got, err := req.ServiceBus()
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("ServiceBus() = %v, want an error starting %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ServiceBus() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	body := fixture(t, "timer.json")
	tests := []struct {
		name  string
		body  string
		limit int64
		want  string
		is    error
	}{
		{"malformed", `{"Data":{"timer":`, 1 << 20, "invoke: decode: unexpected EOF", nil},
		{"oversized", string(body), int64(len(body)) - 1, "invoke: decode: body too large (limit", ErrTooLarge},
		{"not an object", `["Data"]`, 1 << 20, "invoke: decode: want a JSON object", nil},
		{"empty", ``, 1 << 20, "invoke: decode: want a JSON object", nil},
		{"trailing data", `{"Data":{}} {}`, 1 << 20, "invoke: decode: data after the invocation object", nil},
		{"wrong type", `{"Data":[1]}`, 1 << 20, "invoke: decode: json: cannot unmarshal array", nil},
		{"no limit", `{}`, 0, "invoke: decode: limit 0 is not positive", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.body), tt.limit)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Decode() = %v, want an error starting %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Decode() = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
	t.Run("exactly at the limit", func(t *testing.T) {
		req, err := Decode(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		if len(req.Data) != 1 {
			t.Errorf("Data = %v", req.Data)
		}
	})
	t.Run("empty maps", func(t *testing.T) {
		req, err := Decode(strings.NewReader(`{}`), 10)
		if err != nil {
			t.Fatal(err)
		}
		if req.Data == nil || req.Metadata == nil {
			t.Errorf("Decode({}) = %+v, want empty, non-nil maps", req)
		}
	})
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		resp       Response
		wantStatus int
		wantBody   string
	}{
		{"nil fields", http.StatusOK, Response{}, http.StatusOK, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"values", http.StatusOK, Response{Outputs: map[string]any{"out": map[string]int{"n": 1}}, Logs: []string{"done"}, ReturnValue: "r"}, http.StatusOK, `{"Outputs":{"out":{"n":1}},"Logs":["done"],"ReturnValue":"r"}`},
		{"failure", http.StatusInternalServerError, Response{Logs: []string{"failed"}}, http.StatusInternalServerError, `{"Outputs":{},"Logs":["failed"],"ReturnValue":null}`},
		{"unencodable", http.StatusOK, Response{Outputs: map[string]any{"ch": make(chan int)}}, http.StatusInternalServerError, `{"Outputs":{},"Logs":["invoke: encode response: json: unsupported type: chan int"],"ReturnValue":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tt.status, tt.resp)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if diff := cmp.Diff(tt.wantBody, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &keys); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"Logs", "Outputs", "ReturnValue"}, sortedKeys(keys)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keyPaths lists the object keys of a JSON document as dotted paths: its
// shape without the values.
func keyPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, c := range m {
				paths = append(paths, prefix+k)
				walk(prefix+k+".", c)
			}
		}
	}
	walk("", v)
	sort.Strings(paths)
	return paths
}

// The generators reproduce the fixtures exactly given the same inputs and
// GUIDs, and have the fixtures' shape with any GUIDs.
func TestInvocationsMatchFixtures(t *testing.T) {
	blobEvent := EventGridEvent{
		ID:              "831e1650-001e-001b-66ab-eeb76e069631",
		Topic:           "/subscriptions/{subscription-id}/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/my-storage-account",
		Subject:         "/blobServices/default/containers/test-container/blobs/new-file.txt",
		EventType:       BlobCreatedType,
		EventTime:       mustTime(t, "2017-06-26T18:41:00.9584103Z"),
		Data:            json.RawMessage(blobData),
		MetadataVersion: "1",
	}
	delivery := facet.Delivery{
		Message:        facet.Message{ID: "5d6c0e8a2f3b4c1d9e7f6a5b4c3d2e1f", Body: []byte(sbBody), Properties: map[string]string{"kind": "analysis"}},
		DeliveryCount:  2,
		SequenceNumber: 42,
		EnqueuedTime:   mustTime(t, "2026-03-02T10:15:30.5Z"),
	}
	timer := TimerInfo{
		ScheduleStatus: &ScheduleStatus{
			Last:        mustTime(t, "2026-03-01T22:00:00.0123456Z"),
			Next:        mustTime(t, "2026-03-01T23:00:00Z"),
			LastUpdated: mustTime(t, "2026-03-01T22:00:00.0123456Z"),
		},
		IsPastDue: true,
	}
	tests := []struct {
		fixture  string
		function string
		guids    []string // in the order the generator asks for them
		generate func() ([]byte, error)
	}{
		{
			"eventgrid-blobcreated.json", "AnalyzeRecording",
			[]string{"3f2b8c1e-9d4a-4e6b-8f0c-5a7d2e1b9c30"},
			func() ([]byte, error) {
				return EventGridInvocation("event", blobEvent, mustTime(t, "2017-06-26T18:41:01.2345678Z"))
			},
		},
		{
			"servicebus.json", "RunAnalysis",
			[]string{"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f", "b7e4c1d2-3a5f-4e6d-8c9b-0a1f2e3d4c5b"},
			func() ([]byte, error) {
				return ServiceBusInvocation("message", delivery, mustTime(t, "2026-03-02T10:15:31.4567891Z"))
			},
		},
		{
			"timer.json", "RetentionSweep",
			[]string{"e4d3c2b1-a0f9-4e8d-9c7b-6a5f4e3d2c1b"},
			func() ([]byte, error) {
				return TimerInvocation("timer", timer, mustTime(t, "2026-03-02T07:12:04.0345678Z"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			want := fixture(t, tt.fixture)

			random, err := tt.generate()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keyPaths(t, want), keyPaths(t, random)); diff != "" {
				t.Errorf("keys (-fixture +generated):\n%s", diff)
			}

			fixedGUIDs(t, tt.guids...)
			got, err := tt.generate()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(withMethodName(got, tt.function))); diff != "" {
				t.Errorf("body (-fixture +generated):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	enqueued := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	tests := []struct {
		name  string
		body  func(t *testing.T) []byte
		check func(t *testing.T, req *Request)
	}{
		{
			name: "event grid",
			body: func(t *testing.T) []byte {
				b, err := EventGridInvocation("event", roundTripEvent(t), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			check: func(t *testing.T, req *Request) {
				var got EventGridEvent
				if err := req.Bind("event", &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(roundTripEvent(t), got); diff != "" {
					t.Errorf("event (-sent +received):\n%s", diff)
				}
			},
		},
		{
			name: "service bus, JSON body",
			body: func(t *testing.T) []byte {
				b, err := ServiceBusInvocation("message", facet.Delivery{
					Message:       facet.Message{ID: "m-42", Body: []byte(`{"recordingId":"r <1> & \"2\"","n":1}`), Properties: map[string]string{"reason": "retention", "a": "b"}},
					DeliveryCount: 3, SequenceNumber: 1 << 40, EnqueuedTime: enqueued.Add(987 * time.Millisecond),
				}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			check: func(t *testing.T, req *Request) {
				var raw json.RawMessage
				if err := req.Bind("message", &raw); err != nil {
					t.Fatal(err)
				}
				if want := `{"recordingId":"r <1> & \"2\"","n":1}`; string(raw) != want {
					t.Errorf("body = %s, want %s", raw, want)
				}
				got, err := req.ServiceBus()
				if err != nil {
					t.Fatal(err)
				}
				want := ServiceBusMeta{
					MessageID: "m-42", DeliveryCount: 3, SequenceNumber: 1 << 40,
					EnqueuedTimeUtc:       enqueued, // the host keeps whole seconds
					ApplicationProperties: map[string]any{"reason": "retention", "a": "b"},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ServiceBus() (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "service bus, text body",
			body: func(t *testing.T) []byte {
				b, err := ServiceBusInvocation("message", facet.Delivery{
					Message: facet.Message{ID: "m-1", Body: []byte("plain\ntext \u2028")}, DeliveryCount: 1,
				}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			check: func(t *testing.T, req *Request) {
				var s string
				if err := req.Bind("message", &s); err != nil {
					t.Fatal(err)
				}
				if s != "plain\ntext \u2028" {
					t.Errorf("body = %q", s)
				}
			},
		},
		{
			name: "timer without schedule status",
			body: func(t *testing.T) []byte {
				b, err := TimerInvocation("timer", TimerInfo{}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			check: func(t *testing.T, req *Request) {
				var got TimerInfo
				if err := req.Bind("timer", &got); err != nil {
					t.Fatal(err)
				}
				want := TimerInfo{Schedule: json.RawMessage(`{"AdjustForDST":true}`)}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("timer (-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode(bytes.NewReader(tt.body(t)), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, req)
			if s := req.Sys(); s.UtcNow.IsZero() || len(s.RandGuid) != 36 {
				t.Errorf("sys = %+v", s)
			}
		})
	}
}

func roundTripEvent(t *testing.T) EventGridEvent {
	data, err := json.Marshal(BlobCreatedData{API: "PutBlob", ETag: "0x8DC", ContentType: "video/webm", ContentLength: 5 << 30, BlobType: "BlockBlob", URL: "http://127.0.0.1:10000/devstoreaccount1/uploads/p/r", Sequencer: "01"})
	if err != nil {
		t.Fatal(err)
	}
	return EventGridEvent{
		ID: "e-1", Topic: "/subscriptions/0/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/uploads/blobs/p/r", EventType: BlobCreatedType,
		EventTime: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), Data: data, MetadataVersion: "1",
	}
}

// A JSON body's properties override the host's own metadata of the same
// name, ignoring case (Utility.ApplyBindingData): the stand-in does the same.
func TestServiceBusBodyOverridesMetadata(t *testing.T) {
	body, err := ServiceBusInvocation("message", facet.Delivery{
		Message: facet.Message{ID: "real-id", Body: []byte(`{"messageId":"from-body","flag":false,"gone":null}`)}, DeliveryCount: 1,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(bytes.NewReader(body), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := req.ServiceBus()
	if err != nil {
		t.Fatal(err)
	}
	if meta.MessageID != "from-body" {
		t.Errorf("MessageID = %q, want the body's", meta.MessageID)
	}
	var flag string
	if err := req.Meta("flag", &flag); err != nil || flag != "False" {
		t.Errorf("Meta(flag) = %q, %v; want .NET's False", flag, err)
	}
	if _, ok := req.Metadata["gone"]; ok {
		t.Error("a null property was copied; the host skips nulls")
	}
	if _, ok := req.Metadata["messageId"]; ok {
		t.Error("the override added a key; the host keeps the first spelling")
	}
}

func TestPost(t *testing.T) {
	type seen struct {
		method, path string
		header       http.Header
		body         []byte
	}
	tests := []struct {
		name       string
		answer     http.HandlerFunc
		wantStatus int
		wantResp   Response
		wantErr    string
	}{
		{
			name: "ok",
			answer: func(w http.ResponseWriter, r *http.Request) {
				Write(w, http.StatusOK, Response{Logs: []string{"done"}, ReturnValue: 7.0})
			},
			wantStatus: http.StatusOK,
			wantResp:   Response{Outputs: map[string]any{}, Logs: []string{"done"}, ReturnValue: 7.0},
		},
		{
			name: "handler fails the invocation",
			answer: func(w http.ResponseWriter, r *http.Request) {
				Write(w, http.StatusInternalServerError, Response{Logs: []string{"transient"}})
			},
			wantStatus: http.StatusInternalServerError,
		},
		{
			name: "text/plain",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Write([]byte(`{"Outputs":{}}`))
			},
			wantStatus: http.StatusOK,
			wantErr:    `invoke: post RunAnalysis: answer has Content-Type "text/plain", the host needs application/json`,
		},
		{
			name: "empty answer",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
			},
			wantStatus: http.StatusOK,
			wantErr:    "invoke: post RunAnalysis: empty answer",
		},
		{
			name: "not JSON",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Write([]byte(`ok`))
			},
			wantStatus: http.StatusOK,
			wantErr:    "invoke: post RunAnalysis: answer: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
				var buf bytes.Buffer
				buf.ReadFrom(r.Body)
				got.body = buf.Bytes()
				tt.answer(w, r)
			}))
			defer srv.Close()

			body, err := ServiceBusInvocation("message", facet.Delivery{Message: facet.Message{ID: "m", Body: []byte(`{}`)}, DeliveryCount: 1}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			resp, status, err := Post(context.Background(), srv.Client(), srv.URL+"/", "RunAnalysis", "inv-1", body)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("Post() error = %v, want one starting %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantResp, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}

			if got.method != http.MethodPost || got.path != "/RunAnalysis" {
				t.Errorf("request = %s %s, want POST /RunAnalysis", got.method, got.path)
			}
			for k, v := range map[string]string{
				"Content-Type":                   "application/json; charset=utf-8",
				"X-Azure-Functions-InvocationId": "inv-1",
				"User-Agent":                     "Azure-Functions-Host/devhost",
			} {
				if got.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v)
				}
			}
			req, err := Decode(bytes.NewReader(got.body), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if m := req.Sys().MethodName; m != "RunAnalysis" {
				t.Errorf("sys.MethodName = %q, want the function's name", m)
			}
		})
	}
}

func TestPostNoServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := Post(context.Background(), nil, url, "F", "i", []byte(`{}`))
	if err == nil || !strings.HasPrefix(err.Error(), "invoke: post F: ") {
		t.Errorf("Post() = %v, want a connection error", err)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"<a href='x'>&</a>", `"<a href='x'>&</a>"`}, // Newtonsoft leaves HTML alone
		{"\u0085\u2028\u2029", `"\u0085\u2028\u2029"`},
		{"é/€", `"é/€"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
