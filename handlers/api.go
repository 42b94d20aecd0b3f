package handlers

import (
	"bufio"
	"net/http"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// Views: what the API shows of each stored item (camelCase; an analysis
// result keeps the snake_case shape of `facet analyze`).

type clientView struct {
	ID            string             `json:"id"`
	Company       string             `json:"company"`
	Contact       facet.Contact      `json:"contact"`
	Demographics  facet.Demographics `json:"demographics"`
	DPAVersion    string             `json:"dpaVersion"`
	DPAAcceptedAt time.Time          `json:"dpaAcceptedAt"`
	CreatedAt     time.Time          `json:"createdAt"`
}

func viewClient(c *facet.Client) clientView {
	return clientView{c.ID, c.Company, c.Contact, c.Demographics, c.DPA.Version, c.DPA.AcceptedAt, c.CreatedAt}
}

type projectView struct {
	ID             string                `json:"id"`
	Name           string                `json:"name"`
	Status         facet.ProjectStatus   `json:"status"`
	PrivacyMode    string                `json:"privacyMode"`
	UseContext     string                `json:"useContext"`
	Settings       facet.ProjectSettings `json:"settings"`
	ConsentVersion string                `json:"consentVersion"`
	ConsentText    string                `json:"consentText"`
	CreatedAt      time.Time             `json:"createdAt"`
	UpdatedAt      time.Time             `json:"updatedAt"`
	ClosedAt       *time.Time            `json:"closedAt,omitempty"`
	Design         *facet.StudyDesign    `json:"design,omitempty"`
}

func viewProject(p *facet.Project) projectView {
	return projectView{p.ID, p.Name, p.Status, p.PrivacyMode, p.UseContext, p.Settings, p.Consent.Version, p.Consent.Text, p.CreatedAt, p.UpdatedAt, p.ClosedAt, p.Design}
}

type invitationView struct {
	ID             string                 `json:"id"`
	ProjectID      string                 `json:"projectId"`
	ParticipantRef string                 `json:"participantRef,omitempty"`
	Status         facet.InvitationStatus `json:"status"`
	ExpiresAt      time.Time              `json:"expiresAt"`
	CreatedAt      time.Time              `json:"createdAt"`
	UsedAt         *time.Time             `json:"usedAt,omitempty"`
	RecordingID    string                 `json:"recordingId,omitempty"`
	Quota          int                    `json:"quota,omitempty"`
	Uses           int                    `json:"uses,omitempty"`
	AllowExt       bool                   `json:"allowExt,omitempty"`
	CompletionURL  string                 `json:"completionUrl,omitempty"`
}

func viewInvitation(i *facet.Invitation) invitationView {
	return invitationView{i.ID, i.ProjectID, i.ParticipantRef, i.Status, i.ExpiresAt, i.CreatedAt, i.UsedAt, i.RecordingID,
		i.Quota, i.Uses, i.AllowExt, i.CompletionURL}
}

type videoView struct {
	Present        bool       `json:"present"`
	SizeBytes      int64      `json:"sizeBytes,omitempty"`
	DeletedAt      *time.Time `json:"deletedAt,omitempty"`
	DeletionReason string     `json:"deletionReason,omitempty"`
}

type analysisView struct {
	ID         string          `json:"id"`
	CreatedAt  time.Time       `json:"createdAt"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty"`
	Settings   facet.Settings  `json:"settings"`
	Status     facet.RunStatus `json:"status"`
	Failure    *facet.Failure  `json:"failure,omitempty"`
	Summary    *facet.Summary  `json:"summary"`
}

type recordingView struct {
	ID             string                `json:"id"`
	ProjectID      string                `json:"projectId"`
	Status         facet.RecordingStatus `json:"status"`
	ParticipantRef string                `json:"participantRef,omitempty"`
	Failure        *facet.Failure        `json:"failure,omitempty"`
	Video          videoView             `json:"video"`
	ConsentVersion string                `json:"consentVersion"`
	ConsentSource  string                `json:"consentSource"`
	LatestAnalysis string                `json:"latestAnalysis,omitempty"`
	CreatedAt      time.Time             `json:"createdAt"`
	Analyses       *[]analysisView       `json:"analyses,omitempty"`
}

func viewRecording(r *facet.Recording) recordingView {
	return recordingView{
		ID: r.ID, ProjectID: r.ProjectID, Status: r.Status, ParticipantRef: r.ParticipantRef, Failure: r.Failure,
		Video:          videoView{r.Video.Present, r.Video.SizeBytes, r.Video.DeletedAt, r.Video.DeletionReason},
		ConsentVersion: r.Consent.Version, ConsentSource: r.Consent.Source, LatestAnalysis: r.LatestAnalysis, CreatedAt: r.CreatedAt,
	}
}

func viewAnalysis(a *facet.Analysis) analysisView {
	v := analysisView{ID: a.ID, CreatedAt: a.CreatedAt, FinishedAt: a.FinishedAt, Settings: a.Settings, Status: a.Status, Failure: a.Failure}
	if a.Result != nil {
		v.Summary = &a.Result.Summary
	}
	return v
}

func views[T, V any](items []T, f func(*T) V) []V {
	out := make([]V, len(items))
	for i := range items {
		out[i] = f(&items[i])
	}
	return out
}

// --- clients ---

// --- projects ---

func (h *Handler) createProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	var in app.NewProject
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p, err := h.App.CreateProject(r.Context(), c, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewProject(p))
	return nil
}

func (h *Handler) listProjects(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	ps, next, err := h.App.Projects(r.Context(), c, limit, cont)
	if err != nil {
		return err
	}
	list(w, views(ps, viewProject), next)
	return nil
}

func (h *Handler) getProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.Project(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	counts, err := h.App.RecordingCounts(r.Context(), p.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		projectView
		Counts map[facet.RecordingStatus]int `json:"counts"`
	}{viewProject(p), counts})
	return nil
}

func (h *Handler) patchProject(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	// The project must be the caller's before the body is even looked at.
	if _, err := h.App.Project(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	var in app.ProjectPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p, err := h.App.PatchProject(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewProject(p))
	return nil
}

// --- invitations and consent ---

func (h *Handler) createInvitation(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if _, err := h.App.Project(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	var in app.NewInvitation
	if err := decode(w, r, &in); err != nil {
		return err
	}
	inv, token, err := h.App.CreateInvitation(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": inv.ID, "token": token, "url": h.App.InvitationURL(token), "expiresAt": inv.ExpiresAt})
	return nil
}

func (h *Handler) listInvitations(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := h.App.Invitations(r.Context(), c, r.PathValue("id"), limit, cont)
	if err != nil {
		return err
	}
	list(w, views(items, viewInvitation), next)
	return nil
}

func (h *Handler) revokeInvitation(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	inv, err := h.App.RevokeInvitation(r.Context(), c, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewInvitation(inv))
	return nil
}

func (h *Handler) getInvitation(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	inv, err := h.App.Invitation(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inv)
	return nil
}

func (h *Handler) consent(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in app.ConsentInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	slot, err := h.App.Consent(r.Context(), r.PathValue("key"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, slot)
	return nil
}

// --- recordings ---

func (h *Handler) createRecording(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if _, err := h.App.Project(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	var in app.NewRecording
	if err := decode(w, r, &in); err != nil {
		return err
	}
	slot, err := h.App.CreateRecording(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, slot)
	return nil
}

func (h *Handler) listRecordings(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := h.App.Recordings(r.Context(), c, r.PathValue("id"), limit, cont)
	if err != nil {
		return err
	}
	list(w, views(items, viewRecording), next)
	return nil
}

func (h *Handler) getRecording(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	rec, err := h.App.Recording(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	ans, err := h.App.Analyses(r.Context(), rec)
	if err != nil {
		return err
	}
	v := viewRecording(rec)
	av := views(ans, viewAnalysis)
	v.Analyses = &av
	writeJSON(w, http.StatusOK, v)
	return nil
}

// getAnalysis streams the full result: the head, then the frames chunk by
// chunk, so a two-hour timeline is never built in memory.
func (h *Handler) getAnalysis(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	_, an, err := h.App.Analysis(r.Context(), c, r.PathValue("id"), r.PathValue("analysisId"))
	if err != nil {
		return err
	}
	if an.Status != facet.RunDone || an.Result == nil {
		msg := "analysis is " + string(an.Status)
		if an.Failure != nil {
			msg += ": " + an.Failure.Message
		}
		return facet.Errorf(facet.EConflict, "%s", msg)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	bw := bufio.NewWriterSize(w, 32<<10)
	if err := h.writeResult(r.Context(), bw, an); err != nil {
		h.abort(bw, "analysis "+an.ID, err)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func (h *Handler) deleteAnalysis(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.DeleteAnalysis(r.Context(), c, r.PathValue("id"), r.PathValue("analysisId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) reanalyze(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if _, err := h.App.Recording(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	var in struct {
		Settings *app.AnalysisSettings `json:"settings"`
	}
	// The body is optional: none means the project's settings.
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	if in.Settings == nil {
		in.Settings = &app.AnalysisSettings{}
	}
	an, err := h.App.Reanalyze(r.Context(), c, r.PathValue("id"), *in.Settings)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"analysisId": an.ID})
	return nil
}

func (h *Handler) getVideo(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	link, err := h.App.VideoURL(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, link)
	return nil
}
