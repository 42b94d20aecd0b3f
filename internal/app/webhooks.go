package app

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/humaninsight/facet"
)

// MaxWebhooks bounds a client's endpoints: each event is one message per
// endpoint, so the bound is also the fan-out of one event.
const MaxWebhooks = 20

// NewWebhook is the body of POST /api/webhooks.
type NewWebhook struct {
	URL       string            `json:"url"`
	Events    []facet.EventType `json:"events"`
	ProjectID string            `json:"projectId,omitempty"`
}

// WebhookView is an endpoint as the client sees it: never its secret,
// but once, when it is made or rotated (Secret).
type WebhookView struct {
	ID           string              `json:"id"`
	ProjectID    string              `json:"projectId,omitempty"`
	URL          string              `json:"url"`
	Events       []facet.EventType   `json:"events"`
	Status       facet.WebhookStatus `json:"status"`
	FailingSince *time.Time          `json:"failingSince,omitempty"`
	DisabledAt   *time.Time          `json:"disabledAt,omitempty"`
	CreatedAt    time.Time           `json:"createdAt"`
	UpdatedAt    time.Time           `json:"updatedAt"`
	Secret       string              `json:"secret,omitempty"`
}

// WebhookDetail is one endpoint with its last attempts, newest first (the
// answer of GET /api/webhooks/{id}): always a list, empty before the first.
type WebhookDetail struct {
	WebhookView
	Attempts []facet.HookAttempt `json:"attempts"`
}

// View returns what the client may see of w, without its secret.
func View(w *facet.Webhook) WebhookView {
	return WebhookView{ID: w.ID, ProjectID: w.ProjectID, URL: w.URL, Events: w.Events, Status: w.Status,
		FailingSince: w.FailingSince, DisabledAt: w.DisabledAt, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// CreateWebhook registers an endpoint of c. The URL must be https (or,
// with Config.WebhookAllowLocal, http on loopback) and name no address
// that is not public; the secret is in the answer, this once.
func (a *App) CreateWebhook(ctx context.Context, c *facet.Client, n NewWebhook) (*WebhookView, error) {
	u, err := facet.CheckHookURL(n.URL, a.cfg.WebhookAllowLocal)
	if err != nil {
		return nil, err
	}
	events, err := eventTypes(n.Events)
	if err != nil {
		return nil, err
	}
	if n.ProjectID != "" {
		if _, err := a.Project(ctx, c, n.ProjectID); err != nil {
			if isCode(err, facet.ENotFound) {
				return nil, facet.Errorf(facet.EUnprocessable, "projectId: no such project")
			}
			return nil, err
		}
	}
	have, _, err := query[facet.Webhook](ctx, a.Store, facet.CWebhooks, facet.Query{Partition: c.ID, Limit: MaxWebhooks})
	if err != nil {
		return nil, err
	}
	if len(have) >= MaxWebhooks {
		return nil, facet.Errorf(facet.EConflict, "a client has at most %d webhooks: delete one first", MaxWebhooks)
	}
	now := a.now()
	w := &facet.Webhook{ID: newID("wh"), ClientID: c.ID, ProjectID: n.ProjectID, URL: u.String(), Events: events,
		Status: facet.HookActive, Secret: newSecret("whsec_", 32), CreatedAt: now, UpdatedAt: now, Attempts: []facet.HookAttempt{}}
	if _, err := create(ctx, a.Store, facet.CWebhooks, c.ID, w); err != nil {
		return nil, err
	}
	a.Log.Info("webhook created", "client", c.ID, "webhook", w.ID)
	v := View(w)
	v.Secret = w.Secret
	return &v, nil
}

// eventTypes checks a subscription: known types, at least one, each once.
func eventTypes(in []facet.EventType) ([]facet.EventType, error) {
	if len(in) == 0 {
		return nil, facet.Errorf(facet.EInvalid, "events: name at least one event type")
	}
	var out []facet.EventType
	for _, t := range in {
		if !slices.Contains(facet.EventTypes, t) {
			return nil, facet.Errorf(facet.EInvalid, "events: unknown event type %q", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Webhooks lists c's endpoints, newest first.
func (a *App) Webhooks(ctx context.Context, c *facet.Client, limit int, cont string) ([]WebhookView, string, error) {
	ws, next, err := query[facet.Webhook](ctx, a.Store, facet.CWebhooks, facet.Query{Partition: c.ID, OrderBy: "createdAt", Desc: true, Limit: limit, Continuation: cont})
	if err != nil {
		return nil, "", err
	}
	out := make([]WebhookView, len(ws))
	for i := range ws {
		out[i] = View(&ws[i])
	}
	return out, next, nil
}

// Webhook returns one endpoint of c with its last attempts.
func (a *App) Webhook(ctx context.Context, c *facet.Client, id string) (*WebhookDetail, error) {
	w, err := a.webhook(ctx, c, id)
	if err != nil {
		return nil, err
	}
	d := &WebhookDetail{WebhookView: View(w), Attempts: w.Attempts}
	if d.Attempts == nil {
		d.Attempts = []facet.HookAttempt{}
	}
	return d, nil
}

func (a *App) webhook(ctx context.Context, c *facet.Client, id string) (*facet.Webhook, error) {
	w, etag, err := get[facet.Webhook](ctx, a.Store, facet.CWebhooks, c.ID, id)
	if err != nil {
		return nil, asNotFound(err, "webhook")
	}
	w.ETag = etag
	return w, nil
}

// DeleteWebhook removes an endpoint; deliveries still queued for it are
// dropped when they come.
func (a *App) DeleteWebhook(ctx context.Context, c *facet.Client, id string) error {
	if err := a.Store.Delete(ctx, facet.CWebhooks, c.ID, id, ""); err != nil {
		return asNotFound(err, "webhook")
	}
	a.Log.Info("webhook deleted", "client", c.ID, "webhook", id)
	return nil
}

// RotateWebhookSecret gives an endpoint a new secret, returned this once.
// The old one goes on signing beside it for facet.HookSecretGrace, so
// that a receiver can switch without losing a delivery.
func (a *App) RotateWebhookSecret(ctx context.Context, c *facet.Client, id string) (*WebhookView, error) {
	w, err := a.webhook(ctx, c, id)
	if err != nil {
		return nil, err
	}
	now := a.now()
	until := now.Add(facet.HookSecretGrace)
	w.PreviousSecret, w.PreviousUntil = w.Secret, &until
	w.Secret, w.UpdatedAt = newSecret("whsec_", 32), now
	if _, err := replace(ctx, a.Store, facet.CWebhooks, c.ID, w, w.ETag); err != nil {
		if isCode(err, facet.EConflict) {
			return nil, facet.Errorf(facet.EConflict, "webhook changed meanwhile: retry")
		}
		return nil, asNotFound(err, "webhook")
	}
	a.Log.Info("webhook secret rotated", "client", c.ID, "webhook", id)
	v := View(w)
	v.Secret = w.Secret
	return &v, nil
}

// PingWebhook queues a ping to an endpoint, disabled ones included: a
// ping the endpoint answers with 2xx enables it again.
func (a *App) PingWebhook(ctx context.Context, c *facet.Client, id string) (*facet.Event, error) {
	w, err := a.webhook(ctx, c, id)
	if err != nil {
		return nil, err
	}
	ev := facet.Event{ID: newID("evt"), Type: facet.EvPing, CreatedAt: a.now(), Data: facet.EventData{WebhookID: w.ID, Status: string(w.Status)}}
	if err := a.sendHook(ctx, HookJob{WebhookID: w.ID, ClientID: c.ID, Event: ev, Try: 1}); err != nil {
		return nil, err
	}
	return &ev, nil
}

// HookJob is the body of a message on the webhooks queue: one event for
// one endpoint, and which attempt this is.
type HookJob struct {
	WebhookID string      `json:"webhookId"`
	ClientID  string      `json:"clientId"`
	Event     facet.Event `json:"event"`
	Try       int         `json:"try"` // 1: the first attempt
}

func (a *App) sendHook(ctx context.Context, j HookJob) error {
	return a.Queue.Send(ctx, facet.QWebhooks, facet.Message{ID: j.Event.ID + "." + j.WebhookID, Body: mustJSON(j)})
}

// emit queues ev for each active endpoint of the client that subscribed
// to its type for the project. The same occurrence emitted twice has the
// same event id: its delivery is dropped once one succeeded, and a
// receiver can tell a duplicate.
func (a *App) emit(ctx context.Context, clientID, projectID string, ev facet.Event) error {
	ws, _, err := query[facet.Webhook](ctx, a.Store, facet.CWebhooks, facet.Query{Partition: clientID, Where: map[string]any{"status": string(facet.HookActive)}, Limit: MaxWebhooks})
	if err != nil {
		return err
	}
	for i := range ws {
		if ws[i].Wants(ev.Type, projectID) {
			if err := a.sendHook(ctx, HookJob{WebhookID: ws[i].ID, ClientID: clientID, Event: ev, Try: 1}); err != nil {
				return err
			}
		}
	}
	return nil
}

// runEvent emits the end of a run: recording.analyzed with the summary,
// or recording.failed with the failure.
func (a *App) runEvent(ctx context.Context, an *facet.Analysis) error {
	if an.ClientID == "" {
		return nil
	}
	data := facet.EventData{ProjectID: an.ProjectID, RecordingID: an.RecordingID, AnalysisID: an.ID}
	t := facet.EvRecordingAnalyzed
	switch {
	case an.Status == facet.RunFailed:
		t, data.Status, data.Failure = facet.EvRecordingFailed, string(facet.RecFailed), an.Failure
	case an.Result != nil:
		data.Status = string(facet.RecAnalyzed)
		data.Summary, _ = json.Marshal(an.Result.Summary)
	default:
		return nil
	}
	ev := facet.Event{ID: facet.EventID(t, an.ID), Type: t, CreatedAt: a.now(), Data: data}
	return a.emit(ctx, an.ClientID, an.ProjectID, ev)
}

// deleteWebhooks removes every endpoint of a client (its erasure): the
// URLs and secrets are the client's, and nothing is sent to it any more.
func (a *App) deleteWebhooks(ctx context.Context, clientID string) error {
	ws, _, err := query[facet.Webhook](ctx, a.Store, facet.CWebhooks, facet.Query{Partition: clientID, Limit: MaxWebhooks * 2})
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := a.Store.Delete(ctx, facet.CWebhooks, clientID, w.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
			return err
		}
	}
	return nil
}
