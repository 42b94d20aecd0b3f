package app

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/humaninsight/facet"
)

// Queue messages that fail transiently are retried with growing delays.
// Service Bus redelivers an abandoned message at once, so its ten
// deliveries would be spent in milliseconds while a dependency is down for
// a second. Instead the handler schedules a copy of the message that
// carries its attempt number and completes the original; only a message
// that has failed for minutes is given up (then Service Bus dead-letters
// it and the retention sweep repairs what it left).
const (
	maxDeferrals = 240              // ETooMany waits (a client at its limit): 2 h at 30 s
	deferDefault = 30 * time.Second // when a limit does not say how long
)

// RetryPolicy shapes the retries of transient failures.
type RetryPolicy struct {
	Attempts int           // deliveries in all, the first included
	First    time.Duration // the wait after the first failure, doubled after each
	Max      time.Duration // the longest wait
}

// DefaultRetry: 5 s, 10 s, 20 s ... 5 min, eight attempts over about ten
// minutes, so that an outage of minutes loses no message.
var DefaultRetry = RetryPolicy{Attempts: 8, First: 5 * time.Second, Max: 5 * time.Minute}

// Delay is the wait before attempt n+1 after attempt n (n >= 1) failed.
func (p RetryPolicy) Delay(n int) time.Duration {
	d := p.First
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// retryFields are what a message body carries about its earlier attempts.
type retryFields struct {
	Attempt  int `json:"attempt"`  // which attempt this delivery is; 0 or absent: the first
	Deferred int `json:"deferred"` // waits for a client's limit, which are not failures
}

// Retry schedules the next attempt of a message whose handling failed
// with cause. It returns the delay and true once a copy is scheduled (the
// caller then completes the original); false when the message has used
// its attempts or is not a JSON object, and the caller fails the
// invocation. A cause with code ETooMany (a client at its limit) is a
// wait, not a failure: it does not use an attempt.
func (a *App) Retry(ctx context.Context, queue string, id string, body []byte, cause error) (time.Duration, bool, error) {
	var fields map[string]json.RawMessage
	var r retryFields
	if json.Unmarshal(body, &fields) != nil || fields == nil || json.Unmarshal(body, &r) != nil {
		return 0, false, nil
	}
	var delay time.Duration
	if isCode(cause, facet.ETooMany) {
		if r.Deferred++; r.Deferred > maxDeferrals {
			return 0, false, nil
		}
		delay = cmp.Or(max(facet.RetryAfter(cause), 0), deferDefault)
	} else {
		if r.Attempt = max(r.Attempt, 1); r.Attempt >= a.Retries.Attempts {
			return 0, false, nil
		}
		delay = a.Retries.Delay(r.Attempt)
		if hint := facet.RetryAfter(cause); hint > 0 {
			delay = min(delay, hint) // the cause knows it is short
		}
		r.Attempt++
	}
	fields["attempt"], _ = json.Marshal(r.Attempt)
	fields["deferred"], _ = json.Marshal(r.Deferred)
	next, _ := json.Marshal(fields)
	// A delay on the queue's clock, which is the wall clock, whatever the
	// app's own (a.Now) says.
	if _, err := a.Queue.Schedule(ctx, queue, facet.Message{ID: id, Body: next}, time.Now().Add(delay)); err != nil {
		return 0, false, err
	}
	return delay, true, nil
}
