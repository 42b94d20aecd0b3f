// Package invoke is the Azure Functions custom-handler protocol: the JSON the
// Functions host posts to the handler for a non-HTTP invocation, and the JSON
// the handler answers with. It also writes the host's side of the exchange
// for the local host stand-in (internal/devhost) and end-to-end tests.
//
// What the host sends was read from its source (Azure/azure-functions-host):
//   - src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs
//     (ProcessDefaultInvocationRequest, AddHeaders): POST /<FunctionName>
//     with X-Azure-Functions-InvocationId, X-Azure-Functions-HostVersion and
//     User-Agent Azure-Functions-Host/<version>; a non-2xx answer fails the
//     invocation (EnsureSuccessStatusCode); the answer is read with
//     ReadAsAsync<HttpScriptInvocationResult>, so it must be JSON.
//   - src/WebJobs.Script/Workers/MessageExtensions/ScriptInvocationContextExtensions.cs
//     (ToHttpScriptInvocationContext, GetHttpScriptInvocationContextValue):
//     Data holds the trigger and input values by binding name, Metadata the
//     trigger's binding data except keys ending in "trigger". Each value is
//     converted once: byte[] to base64; DateTime and DateTimeOffset to JSON
//     dates (after a ToString round trip that drops fractions of a second);
//     anything Newtonsoft can turn into a JObject stays an object; everything
//     else (strings, numbers, arrays) is JsonConvert.SerializeObject'ed into a
//     string, so on the wire a string body "x" is "\"x\"" and the number 3 is
//     "3".
//   - src/WebJobs.Script/Utility.cs (ApplyBindingData): when the trigger value
//     is a string holding a JSON object, its top-level properties are added to
//     Metadata too (and override binding data of the same name, ignoring case).
//   - src/WebJobs.Script/Workers/Http/HttpScriptInvocationResult.cs: the answer
//     is {"Outputs":{...},"Logs":[...],"ReturnValue":...}.
//
// testdata/README.md lists the sources of each fixture.
package invoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"
)

// ErrTooLarge is returned by Decode for a body above its limit, so an HTTP
// caller can answer 413 rather than 400.
var ErrTooLarge = errors.New("body too large")

// ErrMissing is returned by Bind and Meta when the request has no value of
// that name, so callers can tell an absent optional value from a bad one.
var ErrMissing = errors.New("not in the request")

// Request is one invocation as the host posts it. Values are kept raw because
// their encoding depends on the binding: see Bind.
type Request struct {
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
}

// Decode reads one invocation of at most limit bytes. The whole body is read
// first so that an oversized request fails before any of it is used.
func Decode(r io.Reader, limit int64) (*Request, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("invoke: decode: limit %d is not positive", limit)
	}
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("invoke: decode: read body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("invoke: decode: %w (limit %d bytes)", ErrTooLarge, limit)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("invoke: decode: want a JSON object with Data and Metadata, got %q", abbrev(trimmed))
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("invoke: decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invoke: decode: data after the invocation object")
	}
	if req.Data == nil {
		req.Data = map[string]json.RawMessage{}
	}
	if req.Metadata == nil {
		req.Metadata = map[string]json.RawMessage{}
	}
	return &req, nil
}

// Bind decodes Data[name] (the trigger or an input binding, by its name in
// function.json) into v. The host wraps values in up to two JSON strings (its
// own encoding, and a string body that holds JSON), so Bind peels strings off
// as far as v needs:
//   - *string: down to the text; the wire value `"\"x\""` gives x.
//   - struct, map, slice, number, bool, time.Time: down to the JSON a string
//     holds, so an object, a string holding it, or a string holding that all
//     fill a struct; "3" fills an int; a date without a zone is UTC.
//   - *any and *json.RawMessage: down to the innermost object, array or string.
//   - *[]byte: base64 (how the host sends byte arrays), or the text when the
//     string holds a JSON string, object or array, or the JSON of an object.
func (r *Request) Bind(name string, v any) error {
	raw, ok := lookup(r.Data, name)
	if !ok {
		return fmt.Errorf("invoke: bind %q: %w", name, ErrMissing)
	}
	if err := decodeValue(raw, v); err != nil {
		return fmt.Errorf("invoke: bind %q: %w", name, err)
	}
	return nil
}

// Meta decodes Metadata[name] into v as Bind does. Older hosts sent every
// metadata value, sub-objects included, as a JSON string; both forms decode.
func (r *Request) Meta(name string, v any) error {
	raw, ok := lookup(r.Metadata, name)
	if !ok {
		return fmt.Errorf("invoke: meta %q: %w", name, ErrMissing)
	}
	if err := decodeValue(raw, v); err != nil {
		return fmt.Errorf("invoke: meta %q: %w", name, err)
	}
	return nil
}

// Sys is the host's system binding data (Metadata.sys).
type Sys struct {
	MethodName string    // the function's name
	UtcNow     time.Time // when the host bound the invocation
	RandGuid   string    // a fresh GUID, the {sys.randguid} of binding expressions
}

// Sys returns Metadata.sys. It is informational, so a missing or malformed
// value gives zero fields rather than an error.
func (r *Request) Sys() Sys {
	var s struct {
		MethodName string
		UtcNow     flexTime
		RandGuid   string
	}
	if err := r.Meta("sys", &s); err != nil {
		return Sys{}
	}
	return Sys{MethodName: s.MethodName, UtcNow: time.Time(s.UtcNow), RandGuid: s.RandGuid}
}

// Response is what the handler answers. The host copies Outputs[name] to the
// output binding of that name and ReturnValue to $return, and logs each line
// of Logs. Beware: for outputs not declared "dataType": "binary" the host
// tries base64 on string values and, if that succeeds, passes the decoded
// bytes on; JSON text is never valid base64, short plain words can be.
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// Write answers an invocation. The Content-Type must be JSON: the host parses
// the body with a JSON formatter, and text/plain fails the invocation. Nil
// Outputs and Logs are written as {} and [] so the host does not warn. A
// response that cannot be encoded is answered 500 (the invocation fails)
// with the reason in Logs, since its outputs would otherwise be lost.
func Write(w http.ResponseWriter, status int, resp Response) {
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	body, err := json.Marshal(resp)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(Response{
			Outputs: map[string]any{},
			Logs:    []string{fmt.Sprintf("invoke: encode response: %v", err)},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// lookup finds a value by exact name, then ignoring case: binding names and
// metadata keys are case-insensitive in the host.
func lookup(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if raw, ok := m[name]; ok {
		return raw, true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, name) {
			return m[k], true
		}
	}
	return nil, false
}

// maxPeel bounds how many string layers are removed; the host adds at most
// two (its own, and a string body holding JSON).
const maxPeel = 4

// decodeValue decodes one Data or Metadata value into v; see Bind.
func decodeValue(raw json.RawMessage, v any) error {
	switch p := v.(type) {
	case *[]byte:
		return decodeBytes(raw, p)
	case *time.Time:
		var t flexTime
		if err := t.UnmarshalJSON(peel(raw, isJSONString)); err != nil {
			return err
		}
		*p = time.Time(t)
		return nil
	case *json.RawMessage:
		*p = append(json.RawMessage(nil), peel(raw, isComposite)...)
		return nil
	}
	rt := reflect.TypeOf(v)
	if rt == nil || rt.Kind() != reflect.Pointer {
		return fmt.Errorf("cannot decode into %T: need a pointer", v)
	}
	switch rt.Elem().Kind() {
	case reflect.String:
		raw = peel(raw, isJSONString)
	case reflect.Interface:
		raw = peel(raw, isComposite)
	default:
		raw = peel(raw, isJSON)
	}
	return json.Unmarshal(raw, v)
}

// peel replaces a JSON string by the JSON it holds, as long as that JSON
// satisfies want.
func peel(raw []byte, want func([]byte) bool) []byte {
	raw = bytes.TrimSpace(raw)
	for range maxPeel {
		if len(raw) == 0 || raw[0] != '"' {
			return raw
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw
		}
		inner := bytes.TrimSpace([]byte(s))
		if !want(inner) {
			return raw
		}
		raw = inner
	}
	return raw
}

func isJSON(b []byte) bool       { return len(b) > 0 && json.Valid(b) }
func isJSONString(b []byte) bool { return isJSON(b) && b[0] == '"' }
func isComposite(b []byte) bool {
	return isJSON(b) && (b[0] == '{' || b[0] == '[' || b[0] == '"')
}

// decodeBytes fills p from a value bound as bytes. The host sends byte
// arrays as base64; a string (a Service Bus body, say) arrives as a JSON
// string holding the JSON-encoded text, and its text is what the caller
// wants. Base64 never starts with a quote or a bracket, so the two cannot
// be confused.
func decodeBytes(raw json.RawMessage, p *[]byte) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		*p = nil
		return nil
	case raw[0] != '"':
		*p = append([]byte(nil), raw...)
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	inner := bytes.TrimSpace([]byte(s))
	switch {
	case isJSONString(inner):
		var text string
		if err := json.Unmarshal(inner, &text); err != nil {
			return err
		}
		*p = []byte(text)
	case isComposite(inner):
		*p = inner
	default:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("bytes are neither base64 nor JSON text: %w", err)
		}
		*p = b
	}
	return nil
}

// flexTime reads the host's dates: RFC 3339, or without a zone (a .NET
// DateTime of unspecified kind, which the host uses for times it means as
// UTC), possibly inside a JSON string.
type flexTime time.Time

// UnmarshalJSON accepts RFC 3339 with or without a zone; null or "" leave the
// zero time.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = peel(b, isJSONString)
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = flexTime(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("time %q is not ISO 8601", s)
}

// abbrev shortens b for an error message.
func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
