package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
)

// TestInternalErrorsSayNothing: an internal error's text (store names,
// Go types, paths) never reaches the client; a fixed message and the
// request id of the log line do.
func TestInternalErrorsSayNothing(t *testing.T) {
	for _, err := range []error{
		facet.Errorf(facet.EInternal, "cosmosdb: read recordings: item is not a JSON object"),
		errors.New("inmem: recordings: dial tcp 127.0.0.1:8081: connection refused"),
		facet.Errorf("no-such-code", "azureblob: weird"),
	} {
		w := httptest.NewRecorder()
		w.Header().Set("X-Request-Id", "0123456789abcdef")
		writeError(w, err)
		if p := errorBody(t, w); w.Code != 500 || p.Detail != "internal error" || p.RequestID != "0123456789abcdef" || p.Code != facet.EInternal {
			t.Errorf("%v: %d %+v", err, w.Code, p)
		}
		for _, leak := range []string{"cosmosdb", "inmem", "azureblob", "tcp", "JSON object"} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("%v: answer names %q: %s", err, leak, w.Body.String())
			}
		}
	}
}

// TestMalformedIDsAreUnknown: an id that cannot exist answers 404, as
// README's status table says, without reaching the store (whose refusal
// named the adapter and the container).
func TestMalformedIDsAreUnknown(t *testing.T) {
	e := newEnv(t)
	_, key := e.newClient("Malformed Ltd")
	for _, path := range []string{
		"/api/recordings/rec_%23abc",
		"/api/recordings/rec_0123456789abcdef01234567/analyses/an_%3Fx",
		"/api/projects/pr_%5C..%5Cx",
		"/api/projects/..%2F..",
	} {
		st, out := e.call("GET", path, key, nil)
		body, _ := json.Marshal(out)
		if st != http.StatusNotFound || strings.Contains(string(body), "inmem") || strings.Contains(string(body), "holds one of") {
			t.Errorf("GET %s: %d %s", path, st, body)
		}
	}
	// An invitation's id is 64 hex digits; 64 other characters are unknown.
	bad := "/api/invitations/" + strings.Repeat("a", 61) + "%23bc"
	if st, out := e.call("DELETE", bad, key, nil); st != http.StatusNotFound {
		t.Errorf("DELETE %s: %d %v", bad, st, out)
	}
}

// TestTypeErrorsNameJSONKinds: a body of the wrong JSON kind is refused in
// the API's terms, not Go's.
func TestTypeErrorsNameJSONKinds(t *testing.T) {
	e := newEnv(t)
	_, key := e.newClient("Kinds Ltd")
	for body, want := range map[string]string{
		`[]`:          "want an object",
		`{"name": 7}`: `field "name": want a string`,
		`{"name": "x", "settings": {"sampleFps": "five"}}`: "want a number",
	} {
		st, out := e.call("POST", "/api/projects", key, body)
		got, _ := out["detail"].(string)
		if st != http.StatusBadRequest || !strings.Contains(got, want) || strings.Contains(got, "app.") || strings.Contains(got, "facet.") || strings.Contains(got, "float64") {
			t.Errorf("%s: %d %s; want 400 saying %q", body, st, got, want)
		}
	}
}

// TestInputDetails: text is refused rather than mangled, lengths count
// characters, two equal keys are refused rather than one chosen, and a
// consent date from before the service is refused.
func TestInputDetails(t *testing.T) {
	e := newEnv(t)
	_, key := e.newClient("Details Ltd")
	project := func(name string) (int, string) {
		body := `{"name": "` + name + `", "privacyMode": "retain", "useContext": "media-testing"}`
		st, out := e.call("POST", "/api/projects", key, body)
		msg, _ := out["detail"].(string)
		return st, msg
	}
	if st, msg := project(strings.Repeat("😀", 60)); st != http.StatusCreated {
		t.Errorf("60 emoji: %d %s", st, msg)
	}
	for name, want := range map[string]string{
		"bad\xff\xfename":        "not valid UTF-8",
		`nul\u0000name`:          "control",
		`\u202etxt.exe`:          "control or formatting",
		`two\nlines`:             "control",
		strings.Repeat("é", 201): "at most 200 characters",
	} {
		if st, msg := project(name); st != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("name %q: %d %q, want 400 saying %q", name, st, msg, want)
		}
	}

	p := e.newProject(key, nil)
	inv := e.must(201, "POST", "/api/projects/"+p+"/invitations", key, map[string]any{})
	token := inv["token"].(string)
	pub := e.must(200, "GET", "/api/invitations/"+token, "", nil)
	dup := `{"accept": false, "consentVersion": "` + pub["consentVersion"].(string) + `", "accept": true}`
	if st, out := e.call("POST", "/api/invitations/"+token+"/consent", "", dup); st != http.StatusBadRequest {
		t.Errorf("duplicated accept: %d %v", st, out)
	}
	// The link still works: nothing was consumed.
	e.must(201, "POST", "/api/invitations/"+token+"/consent", "", map[string]any{"accept": true, "consentVersion": pub["consentVersion"]})

	st, out := e.call("POST", "/api/projects/"+p+"/recordings", key, map[string]any{
		"consent": map[string]any{"obtainedAt": "0001-01-01T00:00:00Z", "method": "signed-form"}})
	if st != http.StatusBadRequest {
		t.Errorf("obtainedAt in year 1: %d %v", st, out)
	}
}

func TestDuplicateKey(t *testing.T) {
	for data, want := range map[string]string{
		`{"a": 1, "b": 2}`:                           "",
		`{"a": 1, "a": 2}`:                           "a",
		`{"a": {"b": 1, "b": 2}}`:                    "b",
		`{"a": [{"x": 1}, {"x": 2}], "b": {"x": 3}}`: "",
		`{"a": [1, {"c": 1, "c": 1}]}`:               "c",
		`{"a": {"b": 1}, "a": 2}`:                    "a",
		`{"a": "a", "b": "a"}`:                       "",
		`[{"a": 1}, {"a": 1}]`:                       "",
		`{"a": 1,`:                                   "",
	} {
		got, ok := duplicateKey([]byte(data))
		if got != want || ok != (want != "") {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q", data, got, ok, want)
		}
	}
}

// TestProblemTypesDocumented: every problem type the API can answer has
// its anchor in README's "Problem types" with its status and title, and
// the document's Problem schema lists exactly those types.
func TestProblemTypesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{facet.EInternal}
	for code := range status {
		codes = append(codes, code)
	}
	for _, code := range codes {
		slug := strings.TrimPrefix(ProblemType(code), ProblemTypeBase)
		st := status[code]
		if code == facet.EInternal {
			st = 500
		}
		row := fmt.Sprintf("| <a id=\"problem-%s\"></a>`%s` | %d | %s |", slug, slug, st, ProblemTitles[code])
		if !strings.Contains(string(readme), row) {
			t.Errorf("README has no row %q", row)
		}
		if ProblemTitles[code] == "" {
			t.Errorf("%s has no title", code)
		}
	}
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Type struct{ Enum []string }
					}
				}
			}
		}
	}
	raw, err := os.ReadFile(openAPIPath)
	if err != nil || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("read %s: %v", openAPIPath, err)
	}
	var want []string
	for _, code := range codes {
		want = append(want, ProblemType(code))
	}
	got := doc.Components.Schemas.Problem.Properties.Type.Enum
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Problem.type in %s lists %v, want %v", openAPIPath, got, want)
	}
}

// TestChallengesAndMethods: a 401 names the scheme the route wants (RFC
// 9110, section 11.6.1), and a routed path called with a method it does
// not have answers 405 with Allow (section 15.5.6), not 404.
func TestChallengesAndMethods(t *testing.T) {
	e := newEnv(t)
	_, key := e.newClient("Methods Ltd")
	project := e.newProject(key, nil)
	for _, c := range []struct {
		method, path, key string
		status            int
		header, want      string
	}{
		{"GET", "/api/projects", "", 401, "WWW-Authenticate", `Bearer realm="facet"`},
		{"GET", "/api/clients/me", "wrong", 401, "WWW-Authenticate", `Bearer realm="facet"`},
		{"POST", "/api/clients", "", 401, "WWW-Authenticate", `AdminKey realm="facet", header="X-Admin-Key"`},
		{"PUT", "/api/projects/" + project, key, 405, "Allow", "GET, PATCH, DELETE"},
		{"PUT", "/api/projects/pr_000000000000000000000000", "", 405, "Allow", "GET, PATCH, DELETE"},
		{"DELETE", "/api/projects", key, 405, "Allow", "GET, POST"},
		{"GET", "/api/projects/" + project + "/close", key, 405, "Allow", "POST"},
		{"GET", "/api/nothing/here", key, 404, "Allow", ""},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+c.path, nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		p := errorBody(t, w)
		if resp.StatusCode != c.status || resp.Header.Get(c.header) != c.want {
			t.Errorf("%s %s: %d %s: %q; want %d %q", c.method, c.path, resp.StatusCode, c.header, resp.Header.Get(c.header), c.status, c.want)
		}
		if c.status == 405 && !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s %s: detail %q does not name the methods", c.method, c.path, p.Detail)
		}
	}
}
