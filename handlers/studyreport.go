package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/report"
)

// maxThumbBytes bounds one thumbnail read into the report: the probe
// writes JPEGs of 160 px, a few KiB each.
const maxThumbBytes = 1 << 20

// stimulusResultsCSV serves one row per bin of a stimulus's results
// (report.StimulusCSVHeader), for spreadsheets and R.
func (h *Handler) stimulusResultsCSV(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	binS, err := binParam(r)
	if err != nil {
		return err
	}
	id := r.PathValue("stimulusId")
	res, err := h.App.StimulusResults(r.Context(), c, r.PathValue("id"), id, binS, "")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(report.StimulusCSVHeader)
	for _, b := range res.Bins {
		cw.Write(report.StimulusCSVRow(b))
	}
	cw.Flush()
	return cw.Error()
}

// study gathers the report's study sections: each ready stimulus of the
// design in its order, with its results over the default bins and its
// thumbnails, and A minus B for the first two. Nil for a project without
// a design. Everything is read before the page starts, so that a failure
// is an error answer rather than a cut page.
func (h *Handler) study(ctx context.Context, c *facet.Client, p *facet.Project) (*report.Study, error) {
	if p.Design == nil || len(p.Design.Stimuli) == 0 {
		return nil, nil
	}
	list, _, err := h.App.Stimuli(ctx, c, p.ID, facet.MaxStimuliPerProj, "")
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*facet.Stimulus, len(list))
	for i := range list {
		byID[list[i].ID] = &list[i]
	}
	var ready []*facet.Stimulus
	for _, id := range p.Design.Stimuli {
		if s := byID[id]; s != nil && s.Status == facet.StimReady {
			ready = append(ready, s)
		}
	}
	out := &report.Study{}
	for i, s := range ready {
		compare := ""
		if i == 0 && len(ready) > 1 {
			compare = ready[1].ID
		}
		res, err := h.App.StimulusResults(ctx, c, p.ID, s.ID, 0, compare)
		if gone(err) && compare != "" {
			// B went meanwhile: A's own section all the same.
			res, err = h.App.StimulusResults(ctx, c, p.ID, s.ID, 0, "")
		}
		if gone(err) {
			continue // deleted since the list was read
		}
		if err != nil {
			return nil, err
		}
		thumbs, err := h.thumbnails(ctx, s)
		if err != nil {
			return nil, err
		}
		sec := report.StimulusSection{ID: s.ID, Name: s.Name, Kind: s.Kind, LengthS: res.LengthS, BinS: res.BinS,
			Participants: res.Participants, Thumbnails: thumbs, Bins: res.Bins, Segments: res.Segments}
		if m := s.Media; m != nil && m.Width > 0 && m.Height > 0 {
			sec.Aspect = float64(m.Height) / float64(m.Width)
		}
		out.Stimuli = append(out.Stimuli, sec)
		if res.Compare != nil {
			out.AB = &report.ABSection{A: s.Name, B: ready[1].Name, Result: res.Compare.Result}
		}
	}
	return out, nil
}

// gone reports a stimulus deleted, or no longer ready, since it was read.
func gone(err error) bool {
	code := facet.ErrorCode(err)
	return err != nil && (code == facet.ENotFound || code == facet.EConflict)
}

// thumbnails reads a stimulus's strip from blob storage; a frame that is
// missing or oversized is left out (nil), keeping the others' places.
func (h *Handler) thumbnails(ctx context.Context, s *facet.Stimulus) ([][]byte, error) {
	out := make([][]byte, s.Thumbnails)
	for i := range out {
		var b bytes.Buffer
		err := h.App.Blobs.Download(ctx, facet.StimulusThumbName(s.ProjectID, s.ID, i), &b, facet.DownloadOptions{MaxBytes: maxThumbBytes})
		switch code := facet.ErrorCode(err); {
		case err == nil:
			out[i] = b.Bytes()
		case code == facet.ENotFound || code == facet.ETooLarge:
			h.Log.Warn("report: stimulus thumbnail left out", "project", s.ProjectID, "stimulus", s.ID, "index", i, "code", code)
		default:
			return nil, err
		}
	}
	return out, nil
}
