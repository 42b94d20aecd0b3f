// Package eval measures the engine against labelled files: it reads a CSV
// manifest of files with their true emotion, age and gender, and turns
// pairs of truth and prediction into accuracy figures. It runs no model
// itself (the caller does), so every figure can be tested against numbers
// worked out by hand.
package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kind says how a file's prediction is read: from the largest face of an
// image's one frame, or from a video's summary.
type Kind string

// The kinds a manifest row may declare.
const (
	Image Kind = "image"
	Video Kind = "video"
)

// Manifest column names. Path and kind are required; a missing label
// column means that label is unknown for every row.
const (
	ColPath    = "path"
	ColKind    = "kind"
	ColEmotion = "emotion"
	ColAge     = "age"
	ColGender  = "gender"
)

// Truth is what a manifest row says about its file.
type Truth struct {
	Emotion int     // index into facet.EmotionLabels; NoEmotion if unknown
	Gender  string  // Man, Woman, or "" if unknown
	Age     float64 // years; meaningful only when HasAge
	HasAge  bool
}

// Row is one usable manifest row.
type Row struct {
	Row   int    // line of the row in the manifest (the header is line 1)
	Path  string // as written in the manifest, for messages
	File  string // Path resolved against the manifest's folder
	Kind  Kind
	Truth Truth
}

// BadRow is a row that was skipped, and why.
type BadRow struct {
	Row    int    `json:"row"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// UnknownLabel is a label no rule recognised, with the rows that gave it.
// Those rows still count for their other labels; they are listed so that
// a misspelt class cannot shrink the evaluation unnoticed.
type UnknownLabel struct {
	Column string `json:"column"`
	Label  string `json:"label"`
	Count  int    `json:"count"`
	Rows   []int  `json:"rows"`
}

// Manifest is a parsed manifest.
type Manifest struct {
	DataRows int // rows after the header
	Rows     []Row
	Bad      []BadRow
	Unknown  []UnknownLabel
}

// Read parses the manifest at path; file paths in it are relative to its
// folder.
func Read(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	return Parse(f, filepath.Dir(path))
}

// Parse reads a manifest from r, resolving relative file paths against dir
// and checking that each file exists. A malformed CSV or header is an
// error; a bad row is recorded in Bad and skipped.
func Parse(r io.Reader, dir string) (*Manifest, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short row leaves its last columns empty
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("eval: the manifest is empty (want a header row)")
	}
	if err != nil {
		return nil, fmt.Errorf("eval: manifest: %w", err)
	}
	cols, err := columns(header)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	unknown := map[[2]string]*UnknownLabel{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval: manifest: %w", err)
		}
		if blank(rec) {
			continue // a spreadsheet's trailing ",,,," is a blank line, not a row
		}
		m.DataRows++
		line, _ := cr.FieldPos(0)
		row, bad := parseRow(rec, cols, dir, line, func(col, label string) {
			k := [2]string{col, label}
			if unknown[k] == nil {
				unknown[k] = &UnknownLabel{Column: col, Label: label}
			}
			unknown[k].Count++
			unknown[k].Rows = append(unknown[k].Rows, line)
		})
		if bad != "" {
			m.Bad = append(m.Bad, BadRow{Row: line, Path: row.Path, Reason: bad})
			continue
		}
		m.Rows = append(m.Rows, row)
	}
	m.Unknown = sortUnknown(unknown)
	return m, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// columns maps column names to their index. Names are matched without
// case or surrounding space, and a byte-order mark (spreadsheets write
// one) is dropped, so that "Path" from Excel is still the path column.
func columns(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := cols[name]; dup && name != "" {
			return nil, fmt.Errorf("eval: manifest: column %q appears twice", name)
		}
		cols[name] = i
	}
	for _, need := range []string{ColPath, ColKind} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("eval: manifest: no %q column in the header (want path, kind, emotion, age, gender)", need)
		}
	}
	return cols, nil
}

// parseRow reads one record. It returns a reason when the row cannot be
// used at all; an unrecognised label only goes to onUnknown, because the
// row still informs the other figures.
func parseRow(rec []string, cols map[string]int, dir string, line int, onUnknown func(col, label string)) (Row, string) {
	get := func(col string) string {
		i, ok := cols[col]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	row := Row{Row: line, Path: get(ColPath), Truth: Truth{Emotion: NoEmotion}}
	if row.Path == "" {
		return row, "no path"
	}
	switch k := strings.ToLower(get(ColKind)); Kind(k) {
	case Image, Video:
		row.Kind = Kind(k)
	case "":
		return row, "no kind (want image or video)"
	default:
		return row, fmt.Sprintf("unknown kind %q (want image or video)", get(ColKind))
	}
	row.File = row.Path
	if !filepath.IsAbs(row.File) {
		row.File = filepath.Join(dir, row.File)
	}
	if reason := checkFile(row.File); reason != "" {
		return row, reason
	}
	if s := get(ColEmotion); s != "" {
		if i, ok := ParseEmotion(s); ok {
			row.Truth.Emotion = i
		} else {
			onUnknown(ColEmotion, s)
		}
	}
	if s := get(ColGender); s != "" {
		if g, ok := ParseGender(s); ok {
			row.Truth.Gender = g
		} else {
			onUnknown(ColGender, s)
		}
	}
	if s := get(ColAge); s != "" {
		if a, ok := ParseAge(s); ok {
			row.Truth.Age, row.Truth.HasAge = a, true
		} else {
			onUnknown(ColAge, s)
		}
	}
	return row, ""
}

// checkFile says why path cannot be analysed, or "" when it is a file.
func checkFile(path string) string {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "file not found"
	case err != nil:
		return err.Error()
	case st.IsDir():
		return "a folder, not a file"
	}
	return ""
}

// sortUnknown lists unknown labels by column (emotion, gender, age) and
// then by first appearance: map order would change the output run to run.
func sortUnknown(m map[[2]string]*UnknownLabel) []UnknownLabel {
	rank := map[string]int{ColEmotion: 0, ColGender: 1, ColAge: 2}
	out := make([]UnknownLabel, 0, len(m))
	for _, u := range m {
		out = append(out, *u)
	}
	sort.Slice(out, func(a, b int) bool {
		if ra, rb := rank[out[a].Column], rank[out[b].Column]; ra != rb {
			return ra < rb
		}
		return out[a].Rows[0] < out[b].Rows[0]
	})
	return out
}
