package handlers

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/invoke"
)

func (h *Handler) closeProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.CloseProject(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := viewProject(p)
	writeJSON(w, http.StatusOK, map[string]any{"project": v, "deletionAt": p.Deletion.At})
	return nil
}

func (h *Handler) reopenProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.ReopenProject(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewProject(p))
	return nil
}

func (h *Handler) removeProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.RemoveProject(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": r.PathValue("id"), "status": "deleting"})
	return nil
}

func (h *Handler) removeRecording(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.RemoveRecording(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": r.PathValue("id"), "status": "deleting"})
	return nil
}

func (h *Handler) eraseMe(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	rc, err := h.App.EraseClient(r.Context(), c.ID, app.TriggerAPI, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, rc)
	return nil
}

func (h *Handler) eraseClient(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	rc, err := h.App.EraseClient(r.Context(), r.PathValue("id"), app.TriggerOperator, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, rc)
	return nil
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, clientID, projectID string) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := h.App.Audit(r.Context(), clientID, projectID, limit, cont)
	if err != nil {
		return err
	}
	list(w, items, next)
	return nil
}

type securityView struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Action    string     `json:"action"`
	AccountID string     `json:"accountId"`
	TargetID  string     `json:"targetId,omitempty"`
	Role      facet.Role `json:"role,omitempty"`
	At        time.Time  `json:"at"`
}

// myAudit is the client's deletion log, or with ?type=security its
// security log (sign-ins, roles, keys, erasure; owners only).
func (h *Handler) myAudit(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	switch r.URL.Query().Get("type") {
	case "", "deletion":
		return h.audit(w, r, c.ID, "")
	case "security":
		limit, cont, err := page(r)
		if err != nil {
			return err
		}
		items, next, err := h.App.SecurityLog(r.Context(), c.ID, limit, cont)
		if err != nil {
			return err
		}
		out := make([]securityView, 0, len(items))
		for _, e := range items {
			out = append(out, securityView{e.ID, e.Type, e.Action, e.AccountID, e.TargetID, e.Role, e.At})
		}
		list(w, out, next)
		return nil
	}
	return facet.Errorf(facet.EInvalid, "type: deletion or security")
}

// clientAudit lets the operator read an erased client's deletion records.
func (h *Handler) clientAudit(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	id := r.PathValue("id")
	if _, err := h.App.Client(r.Context(), id); err != nil {
		if facet.ErrorCode(err) != facet.ENotFound {
			return err
		}
		// An erased client's records stay, and stay readable.
		items, _, qerr := h.App.Audit(r.Context(), id, "", 1, "")
		if qerr != nil {
			return qerr
		}
		if len(items) == 0 {
			return facet.Errorf(facet.ENotFound, "client not found")
		}
	}
	return h.audit(w, r, id, "")
}

// projectAudit answers for an existing project, or a removed one whose
// records are in the caller's own partition; anything else is 404.
func (h *Handler) projectAudit(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	id := r.PathValue("id")
	if _, err := h.App.Project(r.Context(), c, id); err != nil {
		if facet.ErrorCode(err) != facet.ENotFound {
			return err
		}
		items, _, qerr := h.App.Audit(r.Context(), c.ID, id, 1, "")
		if qerr != nil {
			return qerr
		}
		if len(items) == 0 {
			return err
		}
	}
	return h.audit(w, r, c.ID, id)
}

// deleteData is the Service Bus trigger on the deletions queue.
func (h *Handler) deleteData(w http.ResponseWriter, r *http.Request) {
	h.serviceBus(w, r, "DeleteData", facet.QDeletions, h.App.DeleteData)
}

// retentionSweep is the timer trigger.
func (h *Handler) retentionSweep(w http.ResponseWriter, r *http.Request) {
	log := h.Log.With("function", "RetentionSweep", "invocation", r.Header.Get("X-Azure-Functions-InvocationId"))
	if req, err := invoke.Decode(r.Body, maxInvocation); err == nil {
		var t invoke.TimerInfo
		if req.Bind(bindTimer, &t) == nil && t.IsPastDue {
			log.Info("timer is past due: sweeping now")
		}
	}
	rep, err := h.App.Sweep(r.Context())
	if err != nil {
		log.Warn("sweep failed; the next run goes on", "error", err)
	}
	b, _ := json.Marshal(rep)
	answer(w, err, "sweep: "+string(b))
}
