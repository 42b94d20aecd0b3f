package facet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// CWebhooks holds clients' webhook endpoints, with each one's recent
// delivery attempts (pk /clientId).
const CWebhooks = "webhooks"

// QWebhooks carries webhook deliveries: one message per event and
// endpoint, and a scheduled copy for each retry.
const QWebhooks = "webhooks"

// EventType names what happened, as a webhook delivery's "type" says.
type EventType string

// Event types a client may subscribe to, and the ping it may ask for.
const (
	EvRecordingAnalyzed EventType = "recording.analyzed" // a run finished with a result
	EvRecordingFailed   EventType = "recording.failed"   // a run ended without one
	EvRecordingDeleted  EventType = "recording.deleted"  // a recording's video was deleted
	EvProjectClosed     EventType = "project.closed"
	EvProjectDeleted    EventType = "project.deleted"
	EvPing              EventType = "ping" // asked for through the API; needs no subscription
)

// EventTypes are the types an endpoint may subscribe to.
var EventTypes = []EventType{EvRecordingAnalyzed, EvRecordingFailed, EvRecordingDeleted, EvProjectClosed, EvProjectDeleted}

// Event is the body of a webhook delivery. Its id stays the same across
// the retries of a delivery and when the same occurrence is reported
// twice, so that a receiver can drop duplicates.
type Event struct {
	ID        string    `json:"id"`
	Type      EventType `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	Data      EventData `json:"data"`
}

// EventData says what an event is about: ids, statuses and the summary;
// never an image, a video link or a participant's reference.
type EventData struct {
	ProjectID   string          `json:"projectId,omitempty"`
	RecordingID string          `json:"recordingId,omitempty"`
	AnalysisID  string          `json:"analysisId,omitempty"`
	WebhookID   string          `json:"webhookId,omitempty"` // ping only
	Status      string          `json:"status,omitempty"`    // the recording's or project's status
	Failure     *Failure        `json:"failure,omitempty"`
	Reason      string          `json:"reason,omitempty"` // a deletion's reason
	Summary     json.RawMessage `json:"summary,omitempty"`
}

// EventID returns the id of the occurrence of type t about the given
// ids: the same occurrence always gets the same id.
func EventID(t EventType, ids ...string) string {
	h := sha256.Sum256([]byte(string(t) + "|" + strings.Join(ids, "|")))
	return "evt_" + hex.EncodeToString(h[:12])
}

// WebhookStatus is an endpoint's state.
type WebhookStatus string

// Endpoint states. An endpoint that has failed every delivery for
// HookDisableAfter is disabled: nothing is sent to it until a ping that
// it answers with 2xx enables it again.
const (
	HookActive   WebhookStatus = "active"
	HookDisabled WebhookStatus = "disabled"
)

// Webhook delivery rules.
const (
	HookTimeout      = 10 * time.Second // one attempt, connection included
	HookRetryWindow  = 24 * time.Hour   // a delivery is retried until it is this old, then failed
	HookDisableAfter = 72 * time.Hour   // an endpoint failing this long is disabled
	HookAttemptsKept = 100              // attempts kept per endpoint, newest first
	HookSecretGrace  = 24 * time.Hour   // the old secret still signs after a rotation
)

// HookRetryDelay is the wait after the n-th failed attempt (n >= 1) of a
// delivery: 30 s doubling to 4 h (30 s, 1, 2, 4, 8, 16, 32 min, 64 min,
// 128 min, then every 4 h), so a delivery is tried about 15 times in
// its first day.
func HookRetryDelay(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 4*time.Hour; i++ {
		d *= 2
	}
	return min(d, 4*time.Hour)
}

// Webhook is a client's endpoint. Secret signs the deliveries; it is
// shown once, when made or rotated, and never again.
type Webhook struct {
	ID             string        `json:"id"`
	ClientID       string        `json:"clientId"`
	ProjectID      string        `json:"projectId,omitempty"` // "": every project of the client
	URL            string        `json:"url"`
	Events         []EventType   `json:"events"`
	Status         WebhookStatus `json:"status"`
	Secret         string        `json:"secret"`
	PreviousSecret string        `json:"previousSecret,omitempty"`
	PreviousUntil  *time.Time    `json:"previousUntil,omitempty"`
	FailingSince   *time.Time    `json:"failingSince,omitempty"`
	DisabledAt     *time.Time    `json:"disabledAt,omitempty"`
	CreatedAt      time.Time     `json:"createdAt"`
	UpdatedAt      time.Time     `json:"updatedAt"`
	Attempts       []HookAttempt `json:"attempts"`
	ETag           string        `json:"-"`
}

// Wants reports whether the endpoint takes events of type t about project.
func (w *Webhook) Wants(t EventType, project string) bool {
	if w.Status != HookActive || (w.ProjectID != "" && w.ProjectID != project) {
		return false
	}
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// Delivered reports whether an attempt of the endpoint delivered event id.
func (w *Webhook) Delivered(id string) bool {
	for _, a := range w.Attempts {
		if a.EventID == id && a.Outcome == HookDelivered {
			return true
		}
	}
	return false
}

// Record adds an attempt, newest first, keeping HookAttemptsKept.
func (w *Webhook) Record(a HookAttempt) {
	w.Attempts = append([]HookAttempt{a}, w.Attempts...)
	if len(w.Attempts) > HookAttemptsKept {
		w.Attempts = w.Attempts[:HookAttemptsKept]
	}
}

// HookOutcome is what became of a delivery attempt.
type HookOutcome string

// Attempt outcomes.
const (
	HookDelivered HookOutcome = "delivered" // the endpoint answered 2xx
	HookRetrying  HookOutcome = "retrying"  // it did not; another attempt is scheduled
	HookFailed    HookOutcome = "failed"    // it did not, and the delivery is given up
)

// HookAttempt is one delivery attempt as the client may read it.
type HookAttempt struct {
	EventID    string      `json:"eventId"`
	EventType  EventType   `json:"eventType"`
	Attempt    int         `json:"attempt"`
	At         time.Time   `json:"at"`
	StatusCode int         `json:"statusCode,omitempty"` // absent when no answer came
	LatencyMs  int64       `json:"latencyMs"`
	Outcome    HookOutcome `json:"outcome"`
	Error      string      `json:"error,omitempty"` // why no answer came, in the API's words
}

// SignatureHeader is the header of a delivery's signature.
const SignatureHeader = "Facet-Signature"

// Sign returns the Facet-Signature of body sent at t: "t=<unix
// seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">" under each secret given
// (one v1 per secret, so a receiver that still has the old secret after a
// rotation keeps verifying).
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts + "."))
		m.Write(body)
		b.WriteString(",v1=" + hex.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}
