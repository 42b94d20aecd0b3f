package invoke

import (
	"encoding/json"
	"fmt"
	"time"
)

// BlobCreatedType is the Event Grid event type Blob Storage sends when a blob
// is committed (PutBlob, PutBlockList, CopyBlob).
const BlobCreatedType = "Microsoft.Storage.BlobCreated"

// EventGridEvent is one event in the Event Grid schema. An eventGridTrigger
// binds it as an object (the extension hands the host a JObject), so
// Bind(name, &ev) needs no unwrapping; a string-encoded event decodes too.
type EventGridEvent struct {
	ID              string          `json:"id"`
	Topic           string          `json:"topic"`
	Subject         string          `json:"subject"`
	EventType       string          `json:"eventType"`
	EventTime       time.Time       `json:"eventTime"`
	Data            json.RawMessage `json:"data"`
	DataVersion     string          `json:"dataVersion"`
	MetadataVersion string          `json:"metadataVersion"`
}

// BlobCreatedData is the data of a Microsoft.Storage.BlobCreated event. It
// describes the blob; the blob itself is never bound, since videos are large
// and are streamed from storage instead.
type BlobCreatedData struct {
	API             string `json:"api"`
	ClientRequestID string `json:"clientRequestId"`
	RequestID       string `json:"requestId"`
	ETag            string `json:"eTag"`
	ContentType     string `json:"contentType"`
	ContentLength   int64  `json:"contentLength"`
	BlobType        string `json:"blobType"`
	URL             string `json:"url"`
	Sequencer       string `json:"sequencer"`
}

// BlobCreated decodes the event's data. It refuses other event types, whose
// data has another shape: reading them as a blob would invent empty fields.
func (e EventGridEvent) BlobCreated() (BlobCreatedData, error) {
	var d BlobCreatedData
	if e.EventType != BlobCreatedType {
		return d, fmt.Errorf("invoke: blob created: event %s has type %q", e.ID, e.EventType)
	}
	if len(e.Data) == 0 || string(e.Data) == "null" {
		return d, fmt.Errorf("invoke: blob created: event %s has no data", e.ID)
	}
	if err := decodeValue(e.Data, &d); err != nil {
		return d, fmt.Errorf("invoke: blob created: event %s: %w", e.ID, err)
	}
	return d, nil
}

// ServiceBusMeta is what a serviceBusTrigger invocation says about its
// message, from Metadata. The body itself is Data[binding]: bind it.
type ServiceBusMeta struct {
	MessageID       string
	DeliveryCount   int // 1 on the first delivery
	SequenceNumber  int64
	EnqueuedTimeUtc time.Time // whole seconds: the host drops the fraction
	ContentType     string
	CorrelationID   string
	// ApplicationProperties are the message's application properties
	// (strings, numbers, booleans as sent).
	ApplicationProperties map[string]any
}

// ServiceBus reads the Service Bus metadata. The host sends numbers as
// strings ("DeliveryCount":"1") and text JSON-encoded twice; both forms and
// plain JSON decode. MessageId and DeliveryCount are required: the host
// always sends them, and a handler needs them to spot redeliveries; a
// negative DeliveryCount is refused. A message body that is a JSON object
// with a property of the same name (ignoring case) overrides these keys in
// the host (Utility.ApplyBindingData), so message bodies must not use them.
func (r *Request) ServiceBus() (ServiceBusMeta, error) {
	var m ServiceBusMeta
	fields := []struct {
		names    []string // first present wins
		v        any
		required bool
	}{
		{[]string{"MessageId"}, &m.MessageID, true},
		{[]string{"DeliveryCount"}, &m.DeliveryCount, true},
		{[]string{"SequenceNumber"}, &m.SequenceNumber, false},
		{[]string{"EnqueuedTimeUtc", "EnqueuedTime"}, &m.EnqueuedTimeUtc, false},
		{[]string{"ContentType"}, &m.ContentType, false},
		{[]string{"CorrelationId"}, &m.CorrelationID, false},
		{[]string{"ApplicationProperties", "UserProperties"}, &m.ApplicationProperties, false},
	}
	for _, f := range fields {
		found := false
		for _, name := range f.names {
			raw, ok := lookup(r.Metadata, name)
			if !ok {
				continue
			}
			if err := decodeValue(raw, f.v); err != nil {
				return ServiceBusMeta{}, fmt.Errorf("invoke: service bus metadata %q: %w", name, err)
			}
			found = true
			break
		}
		if !found && f.required {
			return ServiceBusMeta{}, fmt.Errorf("invoke: service bus metadata %q: %w", f.names[0], ErrMissing)
		}
	}
	// A JSON body can set DeliveryCount (see above); a count below zero
	// is no count Service Bus keeps and would defeat redelivery checks.
	if m.DeliveryCount < 0 {
		return ServiceBusMeta{}, fmt.Errorf("invoke: service bus metadata \"DeliveryCount\": %d is negative", m.DeliveryCount)
	}
	return m, nil
}

// ScheduleStatus is the timer's last and next occurrence as the host's
// schedule monitor records them. An alias, so callers may also write the
// struct type out.
type ScheduleStatus = struct{ Last, Next, LastUpdated time.Time }

// TimerInfo is a timerTrigger's value. ScheduleStatus is nil when the host
// keeps no schedule monitor (useMonitor false, or schedules under a minute).
// IsPastDue is true when the run is late, for instance the first run after
// the host was down over an occurrence.
type TimerInfo struct {
	Schedule       json.RawMessage // {"AdjustForDST":true} for a CRON schedule
	ScheduleStatus *ScheduleStatus
	IsPastDue      bool
}
