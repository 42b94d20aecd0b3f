package handlers

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/report"
)

func (e *env) get(path, key string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestExports: the CSV and JSON exports parse and match the stored runs.
func TestExports(t *testing.T) {
	f := newFixture(t)
	full := f.must(200, "GET", "/api/recordings/"+f.rec+"/analyses/"+f.an, f.keyA, nil)
	frames := full["frames"].([]any)

	resp, body := f.get("/api/projects/"+f.project+"/export.csv", f.keyA)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([]string{"recording_id"}, report.CSVHeader...), rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	// One analysed recording (30 frames, one face each); the pending slot
	// has no run and no rows.
	if len(rows) != 1+len(frames) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(frames))
	}
	for i, row := range rows[1:] {
		fr := frames[i].(map[string]any)
		face := fr["faces"].([]any)[0].(map[string]any)
		if row[0] != f.rec || row[1] != facet.FormatFloat(fr["t"].(float64), 4) || row[15] != face["dominant"] {
			t.Fatalf("row %d %v does not match frame %v", i, row, fr)
		}
	}

	resp, body = f.get("/api/projects/"+f.project+"/export.json", f.keyA)
	if resp.StatusCode != 200 {
		t.Fatalf("json: %s", resp.Status)
	}
	var doc struct {
		Project    map[string]any `json:"project"`
		Recordings []struct {
			ID       string         `json:"id"`
			Analysis map[string]any `json:"analysis"`
		} `json:"recordings"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("json export does not parse: %v", err)
	}
	if doc.Project["id"] != f.project || len(doc.Recordings) != 1 || doc.Recordings[0].ID != f.rec {
		t.Fatalf("export %v", doc)
	}
	if diff := cmp.Diff(full, doc.Recordings[0].Analysis); diff != "" {
		t.Errorf("the exported analysis differs from the stored one (-stored +export):\n%s", diff)
	}
}

func TestReport(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get("/api/projects/"+f.project+"/report", f.keyA)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("report: %s %v", resp.Status, resp.Header)
	}
	page := string(body)
	if got := strings.Count(page, `class="series"`); got != 7+8 {
		t.Errorf("%d chart series, want 15 (one analysed recording)", got)
	}
	if strings.Contains(page, `id="demographics"`) {
		t.Error("age and gender shown for fewer than 5 recordings")
	}
	if st, _ := f.call("GET", "/api/projects/"+f.project+"/report", f.keyB, nil); st != 404 {
		t.Errorf("another client's report: %d", st)
	}
}
