package handlers

import (
	"bufio"
	"context"
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
	if err != nil {
		h.abort(bw, "export of "+p.ID, err)
	}
	return bw.Flush()
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
		id, _ := json.Marshal(rec.ID)
		bw.WriteString(`{"id":`)
		bw.Write(id)
		bw.WriteString(`,"analysis":`)
		if err := h.writeResult(r.Context(), bw, an); err != nil {
			return err
		}
		bw.WriteString("}")
		return nil
	})
	if err != nil {
		h.abort(bw, "export of "+p.ID, err)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// report serves the project's report page: one self-contained HTML page
// with inline SVG charts. It reads the recordings twice, so memory does not
// grow with their number: the first pass folds each timeline (reduced to
// 1-second bins) into the project's figures, which head the page; the
// second draws each recording's section and writes it out at once. A
// stimulus study's sections (per stimulus, over stimulus time) come
// between the two.
func (h *Handler) report(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	p, err := h.App.Project(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	study, err := h.study(r.Context(), c, p)
	if err != nil {
		return err
	}
	each := func(fn func(*report.Series) error) error {
		return h.App.EachRecording(r.Context(), c, p.ID, func(rec *facet.Recording) error {
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
			return fn(s)
		})
	}
	proj := report.NewProject()
	if err := each(func(s *report.Series) error { proj.Add(s); return nil }); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	bw := bufio.NewWriterSize(w, 32<<10)
	report.WriteHead(bw, "facet report: "+p.Name, fmt.Sprintf("Project %s (%s), %d analysed recordings", p.ID, p.UseContext, proj.Count), proj)
	if study != nil {
		report.WriteStudy(bw, *study)
	}
	if err := each(func(s *report.Series) error { return report.WriteRecording(bw, s) }); err != nil {
		h.abort(bw, "report of "+p.ID, err)
	}
	report.WriteEnd(bw)
	return bw.Flush()
}

// writeResult writes a finished run as the `facet analyze` JSON: its stored
// head, then its frames chunk by chunk, so a long timeline is never built
// in memory. Nothing closes the document on error.
func (h *Handler) writeResult(ctx context.Context, bw *bufio.Writer, an *facet.Analysis) error {
	head, err := json.Marshal(an.Result)
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1]) // without the closing brace
	bw.WriteString(`,"frames":[`)
	n := 0
	err = h.App.Frames(ctx, an, func(frames []facet.Frame) error {
		for _, f := range frames {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			n++
			bw.Write(b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}")
	return nil
}

// abort ends a streamed response that failed after its status was sent:
// the connection is cut, so a truncated document can never pass for a
// whole one.
func (h *Handler) abort(bw *bufio.Writer, what string, err error) {
	bw.Flush()
	h.Log.Error("streaming failed part-way", "what", what, "error", err)
	panic(http.ErrAbortHandler)
}
