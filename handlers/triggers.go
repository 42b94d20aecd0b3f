package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/invoke"
)

// maxInvocation bounds an invocation body: events and messages are small.
const maxInvocation = 1 << 20

// Binding names, as in functions/*/function.json.
const (
	bindEvent   = "event"
	bindMessage = "message"
	bindTimer   = "timer"
)

// answer finishes an invocation. Any non-2xx status fails it, which makes
// Event Grid retry and Service Bus redeliver: only for transient errors.
func answer(w http.ResponseWriter, err error, logs ...string) {
	if err != nil {
		invoke.Write(w, http.StatusInternalServerError, invoke.Response{Outputs: map[string]any{}, Logs: append(logs, "failed: "+err.Error())})
		return
	}
	invoke.Write(w, http.StatusOK, invoke.Response{Outputs: map[string]any{}, Logs: logs})
}

// analyzeRecording is the Event Grid trigger on BlobCreated in uploads.
func (h *Handler) analyzeRecording(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Azure-Functions-InvocationId")
	log := h.Log.With("function", "AnalyzeRecording", "invocation", id)
	req, err := invoke.Decode(r.Body, maxInvocation)
	var ev invoke.EventGridEvent
	if err == nil {
		err = req.Bind(bindEvent, &ev)
	}
	var data invoke.BlobCreatedData
	if err == nil && ev.EventType == "Microsoft.Storage.BlobCreated" {
		data, err = ev.BlobCreated()
	}
	if err != nil {
		// Retrying an unreadable event cannot help: record and accept it.
		log.Error("event dropped: unreadable", "error", err)
		answer(w, nil, "unreadable event dropped: "+err.Error())
		return
	}
	out, err := h.App.BlobCreated(r.Context(), app.BlobEvent{
		EventType: ev.EventType, Topic: ev.Topic, Subject: ev.Subject, ETag: data.ETag, ContentLength: data.ContentLength,
	})
	if err != nil {
		log.Warn("event failed, Event Grid will retry", "error", err)
	}
	answer(w, err, fmt.Sprintf("event %s: %s", ev.ID, out))
}

// runAnalysis is the Service Bus trigger on the analysis queue.
func (h *Handler) runAnalysis(w http.ResponseWriter, r *http.Request) {
	h.serviceBus(w, r, "RunAnalysis", facet.QAnalysis, h.App.RunAnalysis)
}

// serviceBus decodes a Service Bus invocation and hands its body to fn:
// unreadable input is recorded and acknowledged (retrying cannot help). A
// transient error from fn schedules a later attempt (app.Retry) and
// acknowledges this one; only when no attempt is left, or none can be
// scheduled, does the invocation fail, so that Service Bus redelivers and
// in the end dead-letters the message.
func (h *Handler) serviceBus(w http.ResponseWriter, r *http.Request, function, queue string, fn func(context.Context, []byte) (app.Outcome, error)) {
	log := h.Log.With("function", function, "invocation", r.Header.Get("X-Azure-Functions-InvocationId"))
	req, err := invoke.Decode(r.Body, maxInvocation)
	var body json.RawMessage
	var meta invoke.ServiceBusMeta
	if err == nil {
		err = req.Bind(bindMessage, &body)
	}
	if err == nil {
		meta, err = req.ServiceBus()
	}
	if err != nil {
		log.Error("message dropped: unreadable invocation", "error", err)
		answer(w, nil, "unreadable message dropped: "+err.Error())
		return
	}
	out, err := fn(r.Context(), body)
	if err == nil {
		answer(w, nil, fmt.Sprintf("%s message: %s", function, out))
		return
	}
	delay, ok, rerr := h.App.Retry(context.WithoutCancel(r.Context()), queue, meta.MessageID, body, err)
	switch {
	case ok:
		log.Warn("failed transiently, retry scheduled", "error", err, "retryIn", delay.String())
		answer(w, nil, fmt.Sprintf("%s message: retry in %s", function, delay))
	case rerr != nil:
		log.Warn("failed transiently and no retry could be scheduled: Service Bus will redeliver", "error", err, "scheduleError", rerr)
		answer(w, err)
	default:
		log.Error("failed transiently and out of attempts: Service Bus will redeliver, then dead-letter", "error", err)
		answer(w, err)
	}
}
