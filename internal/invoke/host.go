package invoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// This file is the host's side, for the local host stand-in and end-to-end
// tests. Each *Invocation function returns the body the real host would post
// for one trigger, with the same keys, order and encodings (see
// testdata/README.md for how each was established). sys.MethodName is left
// empty because only the caller knows the function's name; Post fills it in.

// EventGridInvocation is the body of an eventGridTrigger invocation: the
// event as an object in Data, and its data again in Metadata.data (the
// extension's only binding data).
func EventGridInvocation(binding string, ev EventGridEvent, now time.Time) ([]byte, error) {
	sys, err := sysObject(now)
	if err != nil {
		return nil, fmt.Errorf("invoke: event grid invocation: %w", err)
	}
	// Key order as in Microsoft's event schema example; the host keeps the
	// order Event Grid delivered.
	event := object{
		{"topic", ev.Topic},
		{"subject", ev.Subject},
		{"eventType", ev.EventType},
		{"eventTime", netUTC(ev.EventTime)},
		{"id", ev.ID},
	}
	meta := object{}
	if hasValue(ev.Data) {
		event = append(event, member{"data", rawJSON(ev.Data)})
		meta = append(meta, member{"data", rawJSON(ev.Data)})
	}
	event = append(event, member{"dataVersion", ev.DataVersion}, member{"metadataVersion", ev.MetadataVersion})
	meta = append(meta, member{"sys", sys})
	body, err := envelope(binding, event, meta)
	if err != nil {
		return nil, fmt.Errorf("invoke: event grid invocation: %w", err)
	}
	return body, nil
}

// maxExpiry is when a message without a time to live expires:
// DateTimeOffset.MaxValue, as Service Bus reports it.
var maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// ServiceBusInvocation is the body of a serviceBusTrigger invocation
// (cardinality one). The trigger binds the body as a string, which the host
// JSON-encodes once more: Data[binding] is a JSON string holding the
// JSON-encoded body, even when the body is a JSON object. Metadata carries
// the message's properties as the extension's binding data, with numbers as
// strings, strings JSON-encoded twice and dates to the second. Null
// properties (ContentType, CorrelationId, SessionId, ...) are left out, as the
// host leaves them out; so are the extension's SDK handles (MessageReceiver,
// MessageActions, Client, ...), of no use to a handler. A body that is a JSON
// object also copies its top-level properties into Metadata.
func ServiceBusInvocation(binding string, d facet.Delivery, now time.Time) ([]byte, error) {
	sys, err := sysObject(now)
	if err != nil {
		return nil, fmt.Errorf("invoke: service bus invocation: %w", err)
	}
	lock, err := newGUID()
	if err != nil {
		return nil, fmt.Errorf("invoke: service bus invocation: %w", err)
	}
	props := object{}
	keys := make([]string, 0, len(d.Properties))
	for k := range d.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		props = append(props, member{k, d.Properties[k]})
	}
	// Order of the extension's ServiceBusTriggerBindingStrategy.AddBindingData.
	meta := object{
		{"DeliveryCount", strconv.Itoa(d.DeliveryCount)},
		{"LockToken", quote(lock)},
		{"ExpiresAtUtc", netBound(maxExpiry, false)},
		{"ExpiresAt", netBound(maxExpiry, true)},
		{"EnqueuedTimeUtc", netBound(d.EnqueuedTime, false)},
		{"EnqueuedTime", netBound(d.EnqueuedTime, true)},
		{"MessageId", quote(d.ID)},
		{"SequenceNumber", strconv.FormatInt(d.SequenceNumber, 10)},
		{"ApplicationProperties", props},
		{"UserProperties", props},
		{"sys", sys},
	}
	for _, m := range bodyMetadata(d.Body) {
		meta = meta.set(m.key, m.val)
	}
	body, err := envelope(binding, quote(string(d.Body)), meta)
	if err != nil {
		return nil, fmt.Errorf("invoke: service bus invocation: %w", err)
	}
	return body, nil
}

// TimerInvocation is the body of a timerTrigger invocation: the TimerInfo as
// an object, and only sys in Metadata (the timer's one binding data key,
// TimerTrigger, ends in "trigger" and is left out). An empty Schedule is
// written as a CRON schedule's {"AdjustForDST":true}.
func TimerInvocation(binding string, t TimerInfo, now time.Time) ([]byte, error) {
	sys, err := sysObject(now)
	if err != nil {
		return nil, fmt.Errorf("invoke: timer invocation: %w", err)
	}
	schedule := t.Schedule
	if !hasValue(schedule) {
		schedule = json.RawMessage(`{"AdjustForDST":true}`)
	}
	var status any
	if s := t.ScheduleStatus; s != nil {
		status = object{
			{"Last", netOffset(s.Last)},
			{"Next", netOffset(s.Next)},
			{"LastUpdated", netOffset(s.LastUpdated)},
		}
	}
	timer := object{
		{"Schedule", rawJSON(schedule)},
		{"ScheduleStatus", status},
		{"IsPastDue", t.IsPastDue},
	}
	body, err := envelope(binding, timer, object{{"sys", sys}})
	if err != nil {
		return nil, fmt.Errorf("invoke: timer invocation: %w", err)
	}
	return body, nil
}

// Headers the host sends; the version is the stand-in's.
const (
	hostVersion    = "devhost"
	maxAnswerBytes = 32 << 20
)

// Post sends one invocation as the host does: POST baseURL/<function> with
// Content-Type application/json; charset=utf-8 (what the host's JSON
// formatter sends), X-Azure-Functions-InvocationId, X-Azure-Functions-HostVersion
// and User-Agent Azure-Functions-Host/<version>. It fills an empty
// sys.MethodName with function. A nil client means http.DefaultClient.
//
// A non-2xx status comes back with a nil error and no Response: that is the
// handler failing the invocation on purpose (Event Grid retries, Service Bus
// redelivers). The error is for what the host could not accept: no answer,
// a 2xx answer that is not JSON (the host fails the invocation) or an empty
// one (the host never completes the invocation, so it times out).
func Post(ctx context.Context, client *http.Client, baseURL, function, invocationID string, body []byte) (Response, int, error) {
	if client == nil {
		client = http.DefaultClient
	}
	target := strings.TrimRight(baseURL, "/") + "/" + url.PathEscape(function)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(withMethodName(body, function)))
	if err != nil {
		return Response{}, 0, fmt.Errorf("invoke: post %s: %w", function, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", invocationID)
	req.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+hostVersion)
	res, err := client.Do(req)
	if err != nil {
		return Response{}, 0, fmt.Errorf("invoke: post %s: %w", function, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return Response{}, res.StatusCode, fmt.Errorf("invoke: post %s: read answer: %w", function, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return Response{}, res.StatusCode, nil
	}
	if len(answer) > maxAnswerBytes {
		return Response{}, res.StatusCode, fmt.Errorf("invoke: post %s: answer larger than %d bytes", function, maxAnswerBytes)
	}
	// The host's formatter reads application/json and text/json only.
	ct := res.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && mt != "text/json") {
		return Response{}, res.StatusCode, fmt.Errorf("invoke: post %s: answer has Content-Type %q, the host needs application/json", function, ct)
	}
	if len(bytes.TrimSpace(answer)) == 0 || string(bytes.TrimSpace(answer)) == "null" {
		return Response{}, res.StatusCode, fmt.Errorf("invoke: post %s: empty answer, the host would never complete the invocation", function)
	}
	var resp Response
	if err := json.Unmarshal(answer, &resp); err != nil {
		return Response{}, res.StatusCode, fmt.Errorf("invoke: post %s: answer: %w", function, err)
	}
	return resp, res.StatusCode, nil
}

// emptyMethod is how the *Invocation functions write sys before Post knows
// the function's name.
var emptyMethod = []byte(`"sys":{"MethodName":""`)

// withMethodName fills the empty sys.MethodName. sys is the last key the
// generators write before any body-derived metadata, so the last match is it.
func withMethodName(body []byte, function string) []byte {
	i := bytes.LastIndex(body, emptyMethod)
	if i < 0 {
		return body
	}
	out := make([]byte, 0, len(body)+len(function)+2)
	out = append(out, body[:i]...)
	out = append(out, `"sys":{"MethodName":`...)
	out = append(out, quote(function)...)
	return append(out, body[i+len(emptyMethod):]...)
}

// envelope writes {"Data":{binding:data},"Metadata":meta}.
func envelope(binding string, data any, meta object) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, object{{"Data", object{{binding, data}}}, {"Metadata", meta}}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sysObject is the host's SystemBindingData, which stays an object.
func sysObject(now time.Time) (object, error) {
	guid, err := newGUID()
	if err != nil {
		return nil, err
	}
	return object{{"MethodName", ""}, {"UtcNow", netUTC(now)}, {"RandGuid", guid}}, nil
}

// newGUID returns a random (version 4) GUID; tests replace it.
var newGUID = func() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("guid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func hasValue(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// bodyMetadata is what the host adds to Metadata for a trigger value that is
// a string holding a JSON object (Utility.ApplyBindingData): each top-level
// property that is neither an array nor null, objects as objects and the
// rest as .NET's string of the value, JSON-encoded once more. Anything else
// adds nothing.
func bodyMetadata(body []byte) object {
	var out object
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if val, ok := netPropertyString(raw); ok {
			out = out.set(key.(string), val)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil // not one JSON object: JObject.Parse fails and nothing is added
	}
	return out
}

// netPropertyString converts one property value as ConvertPropertyValue and
// GetHttpScriptInvocationContextValue do.
func netPropertyString(raw json.RawMessage) (any, bool) {
	switch raw[0] {
	case '{':
		return rawJSON(raw), true
	case '[', 'n':
		return nil, false
	case 't':
		return quote("True"), true
	case 'f':
		return quote("False"), true
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		return quote(netDateString(s)), true
	default:
		return quote(string(raw)), true
	}
}

// isoDate matches the strings Newtonsoft's reader turns into dates.
var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$`)

// netDateString is how a JSON string that looks like a date comes out of
// (string)JValue: parsed to a DateTime (zones converted to the host's, UTC),
// then printed in the invariant culture.
func netDateString(s string) string {
	if !isoDate.MatchString(s) {
		return s
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format("01/02/2006 15:04:05")
		}
	}
	return s
}
