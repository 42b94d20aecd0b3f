package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// studyMedia stands in for ffmpeg: the staged file's first line says
// what it is ("video": 3 s at 640x360, "image": a png), and every
// thumbnail is a JPEG's start and end around its index.
type studyMedia struct{}

func (studyMedia) ProbeMedia(ctx context.Context, path string) (facet.StimulusMedia, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return facet.StimulusMedia{}, err
	}
	switch first, _, _ := strings.Cut(string(data), "\n"); first {
	case "video":
		return facet.StimulusMedia{Container: "mp4", VideoCodec: "h264", Width: 640, Height: 360, DurationS: 3, ContentType: "video/mp4"}, nil
	case "image":
		return facet.StimulusMedia{Container: "png", Width: 800, Height: 600, ContentType: "image/png"}, nil
	}
	return facet.StimulusMedia{}, facet.Errorf(facet.EUnprocessable, "not media")
}

func (studyMedia) Thumbnails(ctx context.Context, path string, m facet.StimulusMedia, n, width int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte{0xff, 0xd8, byte(i), 0xff, 0xd9}
	}
	return out, nil
}

// study is a stimulus study run through the API: video A (3 s, a
// segment "opening" over its first second) then image B (2 s), watched by
// two participants who uploaded the sample video (6 s, a frame every
// 0.2 s). The first watched both through; the second's A stalled for
// 0.6 s after its first second, and they left B after one second.
type study struct {
	*env
	key, project string
	a, b         string
	recs         []string
}

func newStudy(t *testing.T) *study {
	e := newEnv(t)
	e.app.Media = studyMedia{}
	s := &study{env: e}
	_, s.key = e.newClient("Study Co")
	s.project = e.newProject(s.key, nil)
	s.a = s.stimulus(map[string]any{"name": "Spot A", "kind": "video"}, "video\n")
	s.b = s.stimulus(map[string]any{"name": "Poster B", "kind": "image", "displayS": 2}, "image\n")
	e.must(200, "PATCH", "/api/projects/"+s.project+"/stimuli/"+s.a, s.key, map[string]any{"segments": []map[string]any{{"name": "opening", "fromS": 0, "toS": 1}}})
	e.must(200, "PATCH", "/api/projects/"+s.project, s.key, map[string]any{"design": map[string]any{"stimuli": []string{s.a, s.b}, "shuffle": false, "baselineS": 0}})
	ev := func(t float64, kind, stim, media string, mediaT float64) string {
		m := ""
		if media != "" {
			m = `, "media": "` + media + `"`
		}
		return fmt.Sprintf(`{"t": %g, "kind": %q, "stimulus": %q%s, "mediaT": %g}`, t, kind, stim, m, mediaT)
	}
	logs := [][]string{
		{ev(0, "start", s.a, "video", 0), ev(0, "playing", s.a, "", 0), ev(3, "end", s.a, "", 3),
			ev(3, "start", s.b, "image", 0), ev(5, "end", s.b, "", 2)},
		{ev(0, "start", s.a, "video", 0), ev(0, "playing", s.a, "", 0), ev(1, "waiting", s.a, "", 1), ev(1.6, "playing", s.a, "", 1),
			ev(3.6, "end", s.a, "", 3), ev(3.6, "start", s.b, "image", 0), ev(4.6, "end", s.b, "", 1)},
	}
	for _, events := range logs {
		slot := e.consent(s.key, s.project)
		log := `{"recorderStartT": 0, "events": [` + strings.Join(events, ",") + `]}`
		s.put(slot["viewingLogUrl"].(string), []byte(log))
		if resp := e.upload(slot, sampleVideo()); resp.StatusCode != 201 {
			t.Fatalf("upload: %s", resp.Status)
		}
		e.deliverUpload(slot, s.project)
		s.recs = append(s.recs, slot["recordingId"].(string))
	}
	return s
}

// put PUTs data through a create link as a browser would.
func (s *study) put(url string, data []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(data))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		s.t.Fatalf("PUT %s: %s", url, resp.Status)
	}
}

// stimulus creates a stimulus, uploads data through its link and plays
// the event and the probe; it returns the stimulus's id, ready.
func (s *study) stimulus(body map[string]any, data string) string {
	s.t.Helper()
	slot := s.must(201, "POST", "/api/projects/"+s.project+"/stimuli", s.key, body)
	id := slot["stimulus"].(map[string]any)["id"].(string)
	s.put(slot["uploadUrl"].(string), []byte(data))
	ctx := context.Background()
	name := facet.StimulusBlob(s.project, id)
	info, err := s.blobs.Stat(ctx, name)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.app.BlobCreated(ctx, app.BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
		Topic:   "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/uploads/blobs/" + name, ETag: info.ETag, ContentLength: info.Size}); err != nil {
		s.t.Fatal(err)
	}
	s.drain()
	if st := s.must(200, "GET", "/api/projects/"+s.project+"/stimuli/"+id, s.key, nil)["status"]; st != "ready" {
		s.t.Fatalf("stimulus %s: %v", id, st)
	}
	return id
}

// TestStudyReport: a study's report has a section per ready stimulus in
// the design's order, with the thumbnails as data URIs, a band per
// emotion and valence, the segment, and the A/B chart; the recordings'
// sections are as before, and a project without a design has none of it.
func TestStudyReport(t *testing.T) {
	s := newStudy(t)
	resp, body := s.get("/api/projects/"+s.project+"/report", s.key)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src data:") {
		t.Fatalf("report: %s %v", resp.Status, resp.Header)
	}
	page := string(body)
	ia, ib := strings.Index(page, `id="stimulus-`+s.a+`"`), strings.Index(page, `id="stimulus-`+s.b+`"`)
	if ia < 0 || ib < ia || strings.Count(page, `class="stimulus"`) != 2 {
		t.Fatalf("stimulus sections at %d (A) and %d (B), want A then B", ia, ib)
	}
	if n := strings.Count(page, `href="data:image/jpeg;base64,`); n != facet.StimulusThumbnails+1 {
		t.Errorf("%d thumbnails, want %d of A and 1 of B", n, facet.StimulusThumbnails)
	}
	if n := strings.Count(page, `class="band"`); n != 16 {
		t.Errorf("%d bands, want 8 per stimulus", n)
	}
	for _, l := range append(facet.EmotionLabels[:], "valence") {
		if !strings.Contains(page, `<path class="band" data-label="`+l+`"`) {
			t.Errorf("no band for %s", l)
		}
	}
	if n := strings.Count(page, `class="segment"`); n != 9 || !strings.Contains(page, ">opening</text>") {
		t.Errorf("%d segment spans, want 9, named opening", n)
	}
	if !strings.Contains(page, `id="ab"`) || strings.Count(page, `class="whisker"`) < 8 || !strings.Contains(page, "paired (the same participants saw both)") {
		t.Error("no A/B chart of the two stimuli, paired")
	}
	// The recordings' sections: 7 project means, 8 lines per recording.
	if n := strings.Count(page, `class="series"`); n != 7+8*2 {
		t.Errorf("%d recording series, want 23", n)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, `src="http`) || strings.Contains(page, `href="http`) {
		t.Error("the page loads or runs something")
	}
	plain := s.newProject(s.key, nil)
	if _, body := s.get("/api/projects/"+plain+"/report", s.key); strings.Contains(string(body), `id="study"`) {
		t.Error("a project without a design has a study section")
	}
}

// cell is one participant's frames in one bin, as the figures read them.
type cell struct {
	frames, faces, attentive int
	sum                      [8]float64 // seven emotions, valence
}

// TestStimulusResultsCSV: the CSV's figures, computed here from the
// frames the runs stored: per bin, each participant's mean over their
// frames' largest described face, then the mean over participants with
// its Student's t interval (two participants: t(0.975, 1) = 12.7062),
// clipped to the figure's range; B's last two bins, seen by the first
// participant alone, have means and no bands.
func TestStimulusResultsCSV(t *testing.T) {
	s := newStudy(t)
	// cells[stimulus][bin][participant]
	cells := map[string][]map[int]*cell{s.a: make([]map[int]*cell, 6), s.b: make([]map[int]*cell, 4)}
	for p, rec := range s.recs {
		r := s.must(200, "GET", "/api/recordings/"+rec, s.key, nil)
		_, raw := s.get("/api/recordings/"+rec+"/analyses/"+r["latestAnalysis"].(string), s.key)
		var run struct{ Frames []facet.Frame }
		if err := json.Unmarshal(raw, &run); err != nil {
			t.Fatal(err)
		}
		for _, f := range run.Frames {
			bins, ok := cells[f.Stimulus]
			if !ok || f.StimulusT == nil {
				continue
			}
			k := int((float64(*f.StimulusT) + 1e-9) / 0.5)
			if bins[k] == nil {
				bins[k] = map[int]*cell{}
			}
			c := bins[k][p]
			if c == nil {
				c = &cell{}
				bins[k][p] = c
			}
			c.frames++
			var best *facet.Face
			for i := range f.Faces {
				if fc := &f.Faces[i]; fc.Described() && (best == nil || fc.Box[2]*fc.Box[3] > best.Box[2]*best.Box[3]) {
					best = fc
				}
			}
			if best == nil {
				continue
			}
			c.faces++
			if q := best.Quality; q == nil || q.Yaw == nil || math.Abs(float64(*q.Yaw)) <= app.AttentionYawMax {
				c.attentive++
			}
			for j, v := range best.Emotions {
				c.sum[j] += v
			}
			c.sum[7] += float64(*best.Valence)
		}
	}
	// estimate returns mean, lower, upper as the CSV spells them.
	estimate := func(vals []float64, lo, hi float64) [3]string {
		switch len(vals) {
		case 0:
			return [3]string{}
		case 1:
			return [3]string{facet.FormatFloat(vals[0], 4), "", ""}
		case 2:
			m := (vals[0] + vals[1]) / 2
			sd := math.Abs(vals[0]-vals[1]) / math.Sqrt2
			half := 12.706204736174705 * sd / math.Sqrt2
			return [3]string{facet.FormatFloat(m, 4), facet.FormatFloat(max(m-half, lo), 4), facet.FormatFloat(min(m+half, hi), 4)}
		}
		t.Fatalf("%d participants", len(vals))
		return [3]string{}
	}
	for _, id := range []string{s.a, s.b} {
		resp, body := s.get("/api/projects/"+s.project+"/stimuli/"+id+"/results.csv", s.key)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="`+id+`.csv"` {
			t.Fatalf("csv: %s %v", resp.Status, resp.Header)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		head := rows[0]
		if len(rows) != 1+len(cells[id]) {
			t.Fatalf("%s: %d bins, want %d", id, len(rows)-1, len(cells[id]))
		}
		for k, pc := range cells[id] {
			want := map[string]string{"startS": facet.FormatFloat(float64(k)*0.5, 4), "endS": facet.FormatFloat(float64(k+1)*0.5, 4)}
			var faceVals, attVals []float64
			var figs [8][]float64
			var dominant [7]float64
			n := 0
			for p := range len(s.recs) { // participants in order
				c := pc[p]
				if c == nil {
					continue
				}
				faceVals = append(faceVals, float64(c.faces)/float64(c.frames))
				attVals = append(attVals, float64(c.attentive)/float64(c.frames))
				if c.faces == 0 {
					continue
				}
				n++
				var e facet.Emotions
				for j := range figs {
					figs[j] = append(figs[j], c.sum[j]/float64(c.faces))
					if j < 7 {
						e[j] = c.sum[j] / float64(c.faces)
					}
				}
				dominant[e.Dominant()]++
			}
			want["n"], want["nAll"] = strconv.Itoa(n), strconv.Itoa(len(faceVals))
			put := func(name string, v [3]string) {
				want[name+"_mean"], want[name+"_lower"], want[name+"_upper"] = v[0], v[1], v[2]
			}
			for j, l := range facet.EmotionLabels {
				put(l, estimate(figs[j], 0, 1))
				want["dominant_"+l] = ""
				if n > 0 {
					want["dominant_"+l] = facet.FormatFloat(dominant[j]/float64(n), 4)
				}
			}
			put("valence", estimate(figs[7], -1, 1))
			put("faceShare", estimate(faceVals, 0, 1))
			put("attentionShare", estimate(attVals, 0, 1))
			row := rows[1+k]
			for i, h := range head {
				if !sameCell(row[i], want[h]) {
					t.Errorf("%s bin %d %s: %q, want %q", id, k, h, row[i], want[h])
				}
			}
		}
	}
	// B's last two bins by hand: the first participant only.
	resp, body := s.get("/api/projects/"+s.project+"/stimuli/"+s.b+"/results.csv", s.key)
	rows, _ := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if resp.StatusCode != 200 || len(rows) != 5 {
		t.Fatalf("B: %s, %d rows", resp.Status, len(rows))
	}
	for _, row := range rows[3:] {
		if row[2] != "1" || row[3] != "1" || row[5] != "" || row[6] != "" || row[4] == "" {
			t.Errorf("B, a bin of one participant: %v", row[:7])
		}
	}
	if st, _ := s.call("GET", "/api/projects/"+s.project+"/stimuli/"+s.a+"/results.csv?binS=0.01", s.key, nil); st != 400 {
		t.Errorf("binS 0.01: %d", st)
	}
}

// sameCell compares two CSV cells: both empty, or numbers within a rounding
// of the fourth decimal (the sums may be taken in another order).
func sameCell(got, want string) bool {
	if got == "" || want == "" {
		return got == want
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && math.Abs(g-w) <= 1.01e-4
}
