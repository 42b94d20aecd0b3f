package app

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/humaninsight/facet"
)

// Webhook delivery outcomes.
const (
	HookSent     Outcome = "delivered"
	HookRetry    Outcome = "retry scheduled"
	HookGaveUp   Outcome = "delivery failed"
	HookDisabled Outcome = "endpoint disabled"
)

// DeliverWebhook handles one message of the webhooks queue: it posts the
// event, signed, to the endpoint and records the attempt on it. An
// endpoint that does not answer 2xx gets the event again later
// (facet.HookRetryDelay) through a scheduled copy of the message, so a
// restart loses nothing, until the event is facet.HookRetryWindow old;
// then the delivery is failed. An error is a failure of the store or the
// queue (transient): the endpoint's own failures are outcomes.
func (a *App) DeliverWebhook(ctx context.Context, body []byte) (Outcome, error) {
	var j HookJob
	if err := json.Unmarshal(body, &j); err != nil || !facet.ValidID(j.WebhookID) || !facet.ValidID(j.ClientID) || j.Event.ID == "" || j.Try < 1 {
		a.Log.Error("webhook message dropped: unreadable", "error", err)
		return PoisonMessage, nil
	}
	if a.Hooks == nil {
		return "", facet.Errorf(facet.EInternal, "app: no webhook sender wired")
	}
	w, err := a.webhook(ctx, &facet.Client{ID: j.ClientID}, j.WebhookID)
	if isCode(err, facet.ENotFound) {
		return Ignored, nil // deleted since, or its client erased
	}
	if err != nil {
		return "", err
	}
	switch {
	case w.Delivered(j.Event.ID):
		return AlreadyDone, nil
	case w.Status == facet.HookDisabled && j.Event.Type != facet.EvPing:
		return HookDisabled, nil
	}
	att, ok := a.post(ctx, w, j)
	out := HookSent
	if !ok {
		out, err = a.retryHook(ctx, j, &att)
		if err != nil {
			return "", err // not scheduled: redelivery tries again
		}
	}
	// The attempt is posted (and its retry scheduled): were this write to
	// fail, a redelivery would post it again, so it is logged instead.
	if err := a.recordAttempt(ctx, w, att, j.Event.Type == facet.EvPing); err != nil {
		a.Log.Warn("webhook attempt not recorded", "webhook", w.ID, "event", j.Event.ID, "error", err)
	}
	return out, nil
}

// post makes one attempt and reports whether the endpoint took it (2xx).
func (a *App) post(ctx context.Context, w *facet.Webhook, j HookJob) (facet.HookAttempt, bool) {
	body, _ := json.Marshal(j.Event)
	now := a.now()
	secrets := []string{w.Secret}
	if w.PreviousSecret != "" && w.PreviousUntil != nil && now.Before(*w.PreviousUntil) {
		secrets = append(secrets, w.PreviousSecret)
	}
	ans, err := a.Hooks.Post(ctx, facet.HookPost{URL: w.URL, Body: body,
		Header: map[string]string{facet.SignatureHeader: facet.Sign(now, body, secrets...)}})
	att := facet.HookAttempt{EventID: j.Event.ID, EventType: j.Event.Type, Attempt: j.Try, At: now,
		StatusCode: ans.Status, LatencyMs: ans.Latency.Milliseconds(), Outcome: facet.HookDelivered}
	if err != nil {
		att.Error = hookError(err)
		a.Log.Info("webhook attempt failed", "webhook", w.ID, "event", j.Event.ID, "try", j.Try, "error", err)
	}
	return att, err == nil && ans.Status >= 200 && ans.Status < 300
}

// hookError is why an attempt got no answer, in words fit for the client.
func hookError(err error) string {
	switch facet.ErrorCode(err) {
	case facet.EInvalid:
		return "address not allowed: the URL must resolve to a public address"
	case facet.EUnavailable:
		return "no answer: connection failed or timed out"
	}
	return "not sent"
}

// retryHook schedules the next attempt of a delivery that failed, or
// gives it up once its event is facet.HookRetryWindow old (a ping is a
// test: it is not retried).
func (a *App) retryHook(ctx context.Context, j HookJob, att *facet.HookAttempt) (Outcome, error) {
	if j.Event.Type == facet.EvPing || att.At.Sub(j.Event.CreatedAt) >= facet.HookRetryWindow {
		att.Outcome = facet.HookFailed
		return HookGaveUp, nil
	}
	delay := a.HookRetry(j.Try)
	next := j
	next.Try++
	msg := facet.Message{ID: j.Event.ID + "." + j.WebhookID + "." + strconv.Itoa(next.Try), Body: mustJSON(next)}
	if _, err := a.Queue.Schedule(ctx, facet.QWebhooks, msg, att.At.Add(delay)); err != nil {
		return "", err
	}
	att.Outcome = facet.HookRetrying
	return HookRetry, nil
}

// recordAttempt adds att to the endpoint and keeps its state: a success
// ends a failing spell (and a ping's success enables a disabled
// endpoint); a failure starts one, and one that has lasted
// facet.HookDisableAfter disables the endpoint. A conflict reads again.
func (a *App) recordAttempt(ctx context.Context, w *facet.Webhook, att facet.HookAttempt, ping bool) error {
	for try := 0; try < 5; try++ {
		w.Record(att)
		if att.Outcome == facet.HookDelivered {
			w.FailingSince = nil
			if ping && w.Status == facet.HookDisabled {
				w.Status, w.DisabledAt = facet.HookActive, nil
				a.Log.Info("webhook enabled again by a ping", "webhook", w.ID)
			}
		} else if w.FailingSince == nil {
			w.FailingSince = &att.At
		} else if w.Status == facet.HookActive && att.At.Sub(*w.FailingSince) >= facet.HookDisableAfter {
			w.Status, w.DisabledAt = facet.HookDisabled, &att.At
			a.Log.Warn("webhook disabled: failing for days", "webhook", w.ID, "failingSince", *w.FailingSince)
		}
		w.UpdatedAt = att.At
		_, err := replace(ctx, a.Store, facet.CWebhooks, w.ClientID, w, w.ETag)
		if !isCode(err, facet.EConflict) {
			return err
		}
		fresh, err := a.webhook(ctx, &facet.Client{ID: w.ClientID}, w.ID)
		if err != nil {
			return err
		}
		*w = *fresh
	}
	return facet.Errorf(facet.EUnavailable, "app: webhook %s keeps changing", w.ID)
}
