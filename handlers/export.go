package handlers

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/report"
)

// exportCSV streams the `facet analyze` CSV of the latest finished run of
// every recording of a project, recording_id first.
func (h *Handler) exportCSV(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.Project(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.ID+`.csv"`)
	bw := bufio.NewWriterSize(w, 32<<10)
	cw := csv.NewWriter(bw)
	cw.Write(append([]string{"recording_id"}, report.CSVHeader...))
	err = h.App.EachRecording(r.Context(), c, p.ID, func(rec *facet.Recording) error {
		an, err := h.App.LatestResult(r.Context(), rec)
		if err != nil || an == nil {
			return err
		}
		return h.App.Frames(r.Context(), an, func(frames []facet.Frame) error {
			for _, f := range frames {
				for _, row := range report.CSVRows(f) {
					if err := cw.Write(append([]string{rec.ID}, row...)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	cw.Flush()
	bw.Flush()
	if err != nil {
		// The status is sent; a truncated file must not pass for a whole one.
		h.Log.Error("export failed part-way", "project", p.ID, "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// exportJSON streams {"project":{...},"recordings":[{"id","analysis":<the
// facet analyze JSON>}]} with the latest finished run of each recording.
func (h *Handler) exportJSON(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.Project(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.ID+`.json"`)
	bw := bufio.NewWriterSize(w, 32<<10)
	head, _ := json.Marshal(viewProject(p))
	bw.WriteString(`{"project":`)
	bw.Write(head)
	bw.WriteString(`,"recordings":[`)
	first := true
	err = h.App.EachRecording(r.Context(), c, p.ID, func(rec *facet.Recording) error {
		an, err := h.App.LatestResult(r.Context(), rec)
		if err != nil || an == nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		res, _ := json.Marshal(an.Result)
		id, _ := json.Marshal(rec.ID)
		bw.WriteString(`{"id":`)
		bw.Write(id)
		bw.WriteString(`,"analysis":`)
		bw.Write(res[:len(res)-1])
		bw.WriteString(`,"frames":[`)
		n := 0
		err = h.App.Frames(r.Context(), an, func(frames []facet.Frame) error {
			for _, f := range frames {
				if n > 0 {
					bw.WriteByte(',')
				}
				n++
				b, err := json.Marshal(f)
				if err != nil {
					return err
				}
				bw.Write(b)
			}
			return nil
		})
		bw.WriteString("]}}")
		return err
	})
	if err != nil {
		bw.Flush()
		h.Log.Error("export failed part-way", "project", p.ID, "error", err)
		panic(http.ErrAbortHandler)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// report serves the project's report page: one self-contained HTML page
// with inline SVG charts, built from the stored timelines one recording
// at a time (each reduced to 1-second bins).
func (h *Handler) report(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.Project(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	var series []*report.Series
	err = h.App.EachRecording(r.Context(), c, p.ID, func(rec *facet.Recording) error {
		an, err := h.App.LatestResult(r.Context(), rec)
		if err != nil || an == nil {
			return err
		}
		s := report.NewSeries(rec.ID, 1)
		s.Summary = an.Result.Summary
		if err := h.App.Frames(r.Context(), an, func(frames []facet.Frame) error {
			for _, f := range frames {
				s.Add(f)
			}
			return nil
		}); err != nil {
			return err
		}
		series = append(series, s)
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	return report.WriteHTML(w, report.ReportData{
		Title:      "facet report: " + p.Name,
		Subtitle:   fmt.Sprintf("Project %s (%s), %d analysed recordings", p.ID, p.UseContext, len(series)),
		Recordings: series,
	})
}
