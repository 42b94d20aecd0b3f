package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// Stimulus routes: a project's stimuli, each only ever its client's.

type stimulusView struct {
	ID              string               `json:"id"`
	ProjectID       string               `json:"projectId"`
	Name            string               `json:"name"`
	Kind            facet.StimulusKind   `json:"kind"`
	DisplayS        float64              `json:"displayS,omitempty"`
	Status          facet.StimulusStatus `json:"status"`
	Refusal         *facet.Failure       `json:"refusal,omitempty"`
	Media           *facet.StimulusMedia `json:"media,omitempty"`
	Thumbnails      int                  `json:"thumbnails"`
	Segments        []facet.Segment      `json:"segments"`
	UploadExpiresAt time.Time            `json:"uploadExpiresAt"`
	CreatedAt       time.Time            `json:"createdAt"`
	UpdatedAt       time.Time            `json:"updatedAt"`
}

func viewStimulus(s *facet.Stimulus) stimulusView {
	segs := s.Segments
	if segs == nil {
		segs = []facet.Segment{}
	}
	return stimulusView{s.ID, s.ProjectID, s.Name, s.Kind, s.DisplayS, s.Status, s.Refusal, s.Media, s.Thumbnails, segs,
		s.UploadExpiresAt, s.CreatedAt, s.UpdatedAt}
}

func (h *Handler) createStimulus(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	// The project must be the caller's before the body is even looked at.
	if _, err := h.App.Project(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	var in app.NewStimulus
	if err := decode(w, r, &in); err != nil {
		return err
	}
	slot, err := h.App.CreateStimulus(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"stimulus": viewStimulus(slot.Stimulus), "uploadUrl": slot.UploadURL,
		"method": slot.Method, "headers": slot.Headers, "expiresAt": slot.ExpiresAt})
	return nil
}

func (h *Handler) listStimuli(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	ss, next, err := h.App.Stimuli(r.Context(), c, r.PathValue("id"), limit, cont)
	if err != nil {
		return err
	}
	list(w, views(ss, viewStimulus), next)
	return nil
}

func (h *Handler) getStimulus(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	s, err := h.App.Stimulus(r.Context(), c, r.PathValue("id"), r.PathValue("stimulusId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewStimulus(s))
	return nil
}

func (h *Handler) patchStimulus(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if _, err := h.App.Stimulus(r.Context(), c, r.PathValue("id"), r.PathValue("stimulusId")); err != nil {
		return err
	}
	var in app.StimulusPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s, err := h.App.PatchStimulus(r.Context(), c, r.PathValue("id"), r.PathValue("stimulusId"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewStimulus(s))
	return nil
}

func (h *Handler) deleteStimulus(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.DeleteStimulus(r.Context(), c, r.PathValue("id"), r.PathValue("stimulusId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) stimulusResults(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	binS, err := binParam(r)
	if err != nil {
		return err
	}
	cmp := r.URL.Query().Get("compare")
	if cmp != "" && !facet.ValidID(cmp) {
		return facet.Errorf(facet.EInvalid, "compare: want a stimulus id")
	}
	res, err := h.App.StimulusResults(r.Context(), c, r.PathValue("id"), r.PathValue("stimulusId"), binS, cmp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// binParam is a results route's ?binS= (0: the default width, which the
// app checks along with the range).
func binParam(r *http.Request) (float64, error) {
	v := r.URL.Query().Get("binS")
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, facet.Errorf(facet.EInvalid, "binS: want a number of seconds")
	}
	return f, nil
}
