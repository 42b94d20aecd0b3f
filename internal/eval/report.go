package eval

import (
	"encoding/json"
	"io"

	"github.com/humaninsight/facet"
)

// Failure is a file the engine could not analyse.
type Failure struct {
	Row    int    `json:"row"`
	Path   string `json:"path"`
	Code   string `json:"code"`   // facet error code, e.g. "video_unreadable"
	Reason string `json:"reason"` // human readable
}

// FileCounts say what became of the manifest's rows.
type FileCounts struct {
	Rows    int `json:"rows"`     // data rows in the manifest
	BadRows int `json:"bad_rows"` // skipped: no path, unknown kind, file missing
	Read    int `json:"read"`     // analysed
	Failed  int `json:"failed"`   // the engine could not analyse them
}

// Labels are one file's emotion, gender and age, true or predicted; null
// where unknown or not estimated.
type Labels struct {
	Emotion *string    `json:"emotion"`
	Gender  *string    `json:"gender"`
	Age     *facet.Num `json:"age"`
}

// FileResult is one analysed file, so that a figure can be traced back to
// the files behind it.
type FileResult struct {
	Row       int       `json:"row"`
	Path      string    `json:"path"`
	Kind      Kind      `json:"kind"`
	Face      bool      `json:"face"`
	FaceRatio facet.Num `json:"face_ratio"`
	Truth     Labels    `json:"truth"`
	Predicted Labels    `json:"predicted"`
}

// Report is the whole evaluation: the JSON output of `facet eval`, whose
// shape README documents. Fields may be added, never renamed or removed.
type Report struct {
	Manifest      string         `json:"manifest"`
	Models        string         `json:"models"`
	SampleFPS     float64        `json:"sample_fps"`
	SmoothS       float64        `json:"smooth_s"`
	Files         FileCounts     `json:"files"`
	BadRows       []BadRow       `json:"bad_rows"`
	Failed        []Failure      `json:"failed"`
	UnknownLabels []UnknownLabel `json:"unknown_labels"`
	Faces         FaceFigures    `json:"faces"`
	Emotion       EmotionFigures `json:"emotion"`
	Gender        GenderFigures  `json:"gender"`
	Age           AgeFigures     `json:"age"`
	Results       []FileResult   `json:"results"`
}

// Settings name what a report evaluated, for its heading.
type Settings struct {
	Manifest  string  // the manifest's path as given
	Models    string  // model set name or manifest
	SampleFPS float64 // frames per second analysed in videos; 0 = every frame
	SmoothS   float64 // seconds over which videos' emotions were smoothed; 0 = raw
}

// NewReport computes every figure from the analysed records and the rows
// that failed or were skipped. Failed files are left out of the figures:
// they have no prediction, and are listed instead.
func NewReport(s Settings, m *Manifest, recs []Record, failed []Failure) *Report {
	r := &Report{
		Manifest: s.Manifest, Models: s.Models, SampleFPS: s.SampleFPS, SmoothS: s.SmoothS,
		Files:         FileCounts{Rows: m.DataRows, BadRows: len(m.Bad), Read: len(recs), Failed: len(failed)},
		BadRows:       nonNil(m.Bad),
		Failed:        nonNil(failed),
		UnknownLabels: nonNil(m.Unknown),
		Faces:         Faces(recs),
		Emotion:       Emotions(recs),
		Gender:        Genders(recs),
		Age:           Ages(recs),
		Results:       make([]FileResult, 0, len(recs)),
	}
	for _, rec := range recs {
		r.Results = append(r.Results, FileResult{
			Row: rec.Row, Path: rec.Path, Kind: rec.Kind,
			Face: rec.Pred.Face, FaceRatio: facet.Num(rec.Pred.FaceRatio),
			Truth:     labels(rec.Truth.Emotion, rec.Truth.Gender, rec.Truth.Age, rec.Truth.HasAge),
			Predicted: labels(rec.Pred.Emotion, rec.Pred.Gender, rec.Pred.Age, rec.Pred.HasAge),
		})
	}
	return r
}

// nonNil makes an empty list marshal as [] rather than null, so readers
// need not tell "none" from "absent".
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func labels(emotion int, gender string, age float64, hasAge bool) Labels {
	var l Labels
	if e := EmotionName(emotion); e != "" {
		l.Emotion = &e
	}
	if gender != "" {
		l.Gender = &gender
	}
	if hasAge {
		l.Age = facet.NumPtr(age)
	}
	return l
}

// WriteJSON writes r indented, for people reading it as well as programs.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
