package handlers

import (
	"net/http"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// Webhook routes: a client's endpoints, each only ever its own (another
// client's id answers 404, as an unknown one does).

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	var in app.NewWebhook
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := h.App.CreateWebhook(r.Context(), c, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	vs, next, err := h.App.Webhooks(r.Context(), c, limit, cont)
	if err != nil {
		return err
	}
	list(w, vs, next)
	return nil
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	v, err := h.App.Webhook(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.DeleteWebhook(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	v, err := h.App.RotateWebhookSecret(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (h *Handler) pingWebhook(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	ev, err := h.App.PingWebhook(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"eventId": ev.ID})
	return nil
}

// deliverWebhook is the Service Bus trigger on the webhooks queue.
func (h *Handler) deliverWebhook(w http.ResponseWriter, r *http.Request) {
	h.serviceBus(w, r, "DeliverWebhook", facet.QWebhooks, h.App.DeliverWebhook)
}
