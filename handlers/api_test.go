package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/devhost"
	"github.com/humaninsight/facet/internal/testenv"
)

// TestFunctionsMatchRoutes: every function folder has a handler and every
// handler a function folder, with the same routes and methods.
func TestFunctionsMatchRoutes(t *testing.T) {
	fns, err := devhost.LoadFunctions(filepath.Join(testenv.RepoRoot(), "functions"))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON := map[string]string{}
	for _, f := range fns {
		tr := f.Trigger()
		if tr.Type != "httpTrigger" {
			if _, ok := Triggers[f.Name]; !ok {
				t.Errorf("function %s (%s) has no trigger handler", f.Name, tr.Type)
			}
			continue
		}
		if len(f.Bindings) != 2 || f.Bindings[1].Type != "http" || tr.AuthLevel != "anonymous" {
			t.Errorf("function %s: want exactly an anonymous httpTrigger and an http output (enableForwardingHttpRequest)", f.Name)
		}
		ms := append([]string(nil), tr.Methods...)
		sort.Strings(ms)
		// A catch-all, {*rest} in the host's template, is {rest...} in ServeMux's.
		route := regexp.MustCompile(`\{\*([^}]+)\}`).ReplaceAllString(tr.Route, "{$1...}")
		fromJSON[f.Name] = "/" + route + " " + strings.Join(ms, ",")
	}
	fromCode := map[string]string{}
	methods := map[string][]string{}
	paths := map[string]string{}
	for _, r := range Routes() {
		methods[r.Function] = append(methods[r.Function], strings.ToLower(r.Method))
		if p, ok := paths[r.Function]; ok && p != r.Path {
			t.Errorf("function %s serves two paths: %s and %s", r.Function, p, r.Path)
		}
		paths[r.Function] = r.Path
	}
	for fn, ms := range methods {
		sort.Strings(ms)
		fromCode[fn] = paths[fn] + " " + strings.Join(ms, ",")
	}
	if diff := cmp.Diff(fromCode, fromJSON); diff != "" {
		t.Errorf("routes in code (-) and in functions/*/function.json (+):\n%s", diff)
	}
	for name := range Triggers {
		found := false
		for _, f := range fns {
			found = found || f.Name == name
		}
		if !found {
			t.Errorf("trigger handler %s has no functions/%s/function.json", name, name)
		}
	}
	var host struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string   `json:"defaultExecutablePath"`
				Arguments             []string `json:"arguments"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		FunctionTimeout string `json:"functionTimeout"`
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &host); err != nil {
		t.Fatal(err)
	}
	if host.Extensions.HTTP.RoutePrefix == nil || *host.Extensions.HTTP.RoutePrefix != "" || !host.CustomHandler.EnableForwardingHTTPRequest ||
		host.CustomHandler.Description.DefaultExecutablePath != "facet" || !reflect.DeepEqual(host.CustomHandler.Description.Arguments, []string{"serve"}) {
		t.Errorf("host.json: %+v", host)
	}
}

// fixture is one client's finished flow plus a second client.
type fixture struct {
	*env
	keyA, keyB, idA    string
	project, rec, an   string
	pendingRec         string // a slot awaiting upload
	openInv, openToken string
	usedToken          string
	expiredToken       string
	revokedToken       string
	closed             string // a closed project (grace 0)
	graceClosed        string // a closed project within its grace period
	keyC, idC          string // a client to erase
	removable          string // a project to remove
	hook               string // a webhook of client A
	stim               string // a stimulus of client A's project
	removableRec       string // a recording to remove
	keyIDA             string // client A's first API key's id
	sessionA, ownerA   string // client A's owner: a session credential, the account's id
}

func newFixture(t *testing.T) *fixture {
	e := newEnv(t)
	f := &fixture{env: e}
	f.idA, f.keyA = e.newClient("Acme Research")
	_, f.keyB = e.newClient("Other Co")
	f.project = e.newProject(f.keyA, nil)
	slot := e.consent(f.keyA, f.project)
	f.rec = slot["recordingId"].(string)
	if resp := e.upload(slot, sampleVideo()); resp.StatusCode != 201 {
		t.Fatalf("upload: %s", resp.Status)
	}
	e.deliverUpload(slot, f.project)
	rec := e.must(200, "GET", "/api/recordings/"+f.rec, f.keyA, nil)
	if rec["status"] != "analyzed" {
		t.Fatalf("recording %v", rec)
	}
	f.an = rec["latestAnalysis"].(string)
	pending := e.must(201, "POST", "/api/projects/"+f.project+"/recordings", f.keyA, map[string]any{
		"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Hour), "method": "signed-form"}})
	f.pendingRec = pending["recordingId"].(string)
	inv := e.must(201, "POST", "/api/projects/"+f.project+"/invitations", f.keyA, map[string]any{})
	f.openInv, f.openToken = inv["id"].(string), inv["token"].(string)
	used := e.must(201, "POST", "/api/projects/"+f.project+"/invitations", f.keyA, map[string]any{})
	f.usedToken = used["token"].(string)
	pub := e.must(200, "GET", "/api/invitations/"+f.usedToken, "", nil)
	e.must(201, "POST", "/api/invitations/"+f.usedToken+"/consent", "", map[string]any{"accept": true, "consentVersion": pub["consentVersion"]})
	exp := e.must(201, "POST", "/api/projects/"+f.project+"/invitations", f.keyA, map[string]any{"expiresInS": 60})
	f.expiredToken = exp["token"].(string)
	expireInvitation(t, e, exp["id"].(string))
	rev := e.must(201, "POST", "/api/projects/"+f.project+"/invitations", f.keyA, map[string]any{})
	f.revokedToken = rev["token"].(string)
	e.must(200, "DELETE", "/api/invitations/"+rev["id"].(string), f.keyA, nil)
	f.closed = e.newProject(f.keyA, nil)
	e.must(200, "POST", "/api/projects/"+f.closed+"/close", f.keyA, nil)
	f.graceClosed = e.newProject(f.keyA, map[string]any{"settings": map[string]any{"deletionGraceS": 3600}})
	e.must(200, "POST", "/api/projects/"+f.graceClosed+"/close", f.keyA, nil)
	f.removable = e.newProject(f.keyA, nil)
	f.removableRec = e.must(201, "POST", "/api/projects/"+f.project+"/recordings", f.keyA, map[string]any{
		"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Hour), "method": "signed-form"}})["recordingId"].(string)
	f.idC, f.keyC = e.newClient("Leaving Co")
	f.stim = e.must(201, "POST", "/api/projects/"+f.project+"/stimuli", f.keyA, map[string]any{"name": "Spot A", "kind": "video"})["stimulus"].(map[string]any)["id"].(string)
	f.hook = e.must(201, "POST", "/api/webhooks", f.keyA, map[string]any{"url": "https://hooks.example/acme", "events": []string{"recording.analyzed"}})["id"].(string)
	f.keyIDA = e.must(200, "GET", "/api/clients/me/keys", f.keyA, nil)["items"].([]any)[0].(map[string]any)["id"].(string)
	e.must(201, "POST", "/api/clients/"+f.idA+"/invitations", "admin", map[string]any{"email": "ada@acme.example"})
	f.sessionA = e.join("Ada")
	f.ownerA = e.must(200, "GET", "/api/session", f.sessionA, nil)["account"].(map[string]any)["id"].(string)
	return f
}

// expireInvitation moves an invitation's expiry into the past, as time would.
func expireInvitation(t *testing.T, e *env, id string) {
	t.Helper()
	d, err := e.store.Read(context.Background(), facet.CInvitations, id, id)
	if err != nil {
		t.Fatal(err)
	}
	var inv facet.Invitation
	json.Unmarshal(d.JSON, &inv)
	inv.ExpiresAt = time.Now().Add(-time.Minute)
	b, _ := json.Marshal(inv)
	if _, err := e.store.Replace(context.Background(), facet.CInvitations, id, b, d.ETag); err != nil {
		t.Fatal(err)
	}
}

func TestFlowInMemory(t *testing.T) {
	f := newFixture(t)
	rec := f.must(200, "GET", "/api/recordings/"+f.rec, f.keyA, nil)
	ans := rec["analyses"].([]any)
	if len(ans) != 1 {
		t.Fatalf("analyses %v", ans)
	}
	sum := ans[0].(map[string]any)["summary"].(map[string]any)
	if sum["face_ratio"].(float64) < 0.95 || sum["frames"].(float64) != 30 {
		t.Errorf("summary %v", sum)
	}
	if v := rec["video"].(map[string]any); v["present"] != true || v["sizeBytes"].(float64) < 1000 {
		t.Errorf("video %v", v)
	}
	full := f.must(200, "GET", "/api/recordings/"+f.rec+"/analyses/"+f.an, f.keyA, nil)
	frames := full["frames"].([]any)
	if len(frames) != 30 {
		t.Fatalf("%d frames", len(frames))
	}
	happy := 0
	for _, fr := range frames[:15] {
		faces := fr.(map[string]any)["faces"].([]any)
		if len(faces) > 0 && faces[0].(map[string]any)["dominant"] == "happy" {
			happy++
		}
	}
	if happy < 8 {
		t.Errorf("astronaut half: %d of 15 frames happy", happy)
	}
	for _, k := range []string{"video", "settings", "models", "summary", "frames"} {
		if _, ok := full[k]; !ok {
			t.Errorf("full result lacks %q", k)
		}
	}

	// A repeated event and a repeated message change nothing.
	before := snapshot(t, f.env)
	slot := map[string]any{"recordingId": f.rec}
	f.deliverUpload(slot, f.project)
	body, _ := json.Marshal(map[string]string{"recordingId": f.rec, "projectId": f.project, "analysisId": f.an})
	if out, err := f.app.RunAnalysis(context.Background(), body); err != nil || out != "duplicate" {
		t.Errorf("repeated message: %v %v", out, err)
	}
	if diff := cmp.Diff(before, snapshot(t, f.env)); diff != "" {
		t.Errorf("a repeated event or message changed the store:\n%s", diff)
	}

	// A second PUT through the same link is refused; the recording stays.
	url := rec["id"].(string)
	_ = url
	up := f.must(201, "POST", "/api/projects/"+f.project+"/recordings", f.keyA, map[string]any{
		"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Minute), "method": "signed-form"}})
	if resp := f.upload(up, sampleVideo()); resp.StatusCode != 201 {
		t.Fatalf("client-made slot upload: %s", resp.Status)
	}
	if resp := f.upload(up, sampleVideo()); resp.StatusCode < 400 {
		t.Errorf("second PUT through the same link: %s", resp.Status)
	}
	f.deliverUpload(up, f.project)
	r2 := f.must(200, "GET", "/api/recordings/"+up["recordingId"].(string), f.keyA, nil)
	if r2["status"] != "analyzed" || r2["consentSource"] != "client" {
		t.Errorf("client-made slot: %v", r2)
	}

	// Re-analysis makes a second run with other settings.
	re := f.must(202, "POST", "/api/recordings/"+f.rec+"/reanalyze", f.keyA, map[string]any{"settings": map[string]any{"sampleFps": 1, "smoothS": 0, "detect": "track"}})
	f.drain()
	run := f.must(200, "GET", "/api/recordings/"+f.rec+"/analyses/"+re["analysisId"].(string), f.keyA, nil)
	if n := len(run["frames"].([]any)); n != 6 {
		t.Errorf("re-analysis at 1 fps: %d frames", n)
	}
	// Raw scores on request; the project's runs are smoothed by default.
	if s := run["settings"].(map[string]any); s["smooth_s"] != 0.0 || s["detect"] != "track" {
		t.Errorf("re-analysis with smoothS 0 and detect track: settings %v", s)
	}
	first := f.must(200, "GET", "/api/recordings/"+f.rec, f.keyA, nil)["analyses"].([]any)
	for _, a := range first {
		if id := a.(map[string]any)["id"]; id != re["analysisId"] {
			if s := f.must(200, "GET", "/api/recordings/"+f.rec+"/analyses/"+id.(string), f.keyA, nil)["settings"].(map[string]any); s["smooth_s"] != facet.DefaultSmoothS || s["detect"] != nil {
				t.Errorf("first run's settings %v, want smooth_s %v", s, facet.DefaultSmoothS)
			}
		}
	}
	if got := f.must(200, "GET", "/api/recordings/"+f.rec, f.keyA, nil)["analyses"].([]any); len(got) != 2 {
		t.Errorf("after re-analysis: %d runs", len(got))
	}
	vid := f.must(200, "GET", "/api/recordings/"+f.rec+"/video", f.keyA, nil)
	if !strings.Contains(vid["url"].(string), f.rec) {
		t.Errorf("video link %v", vid)
	}
}

// snapshot reads every stored document, keyed by container and id.
func snapshot(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range facet.Containers {
		cont := ""
		for {
			p, err := e.store.Query(context.Background(), c.Name, facet.Query{Continuation: cont})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Docs {
				var v map[string]any
				json.Unmarshal(d.JSON, &v)
				out[c.Name+"/"+fmt.Sprint(v["id"])] = string(d.JSON)
			}
			if p.Continuation == "" {
				break
			}
			cont = p.Continuation
		}
	}
	return out
}

// TestTenantIsolation: client B using client A's ids gets 404 on every
// client route, and nothing changes. A route without a case fails.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	cases := map[string]struct {
		path string
		body any
	}{
		"GET /api/clients/me":                                 {"", nil}, // own data only: checked below
		"POST /api/clients/me/keys":                           {"", nil},
		"GET /api/clients/me/keys":                            {"", nil},
		"PATCH /api/clients/me":                               {"", nil},
		"DELETE /api/clients/me/keys/{id}":                    {"/api/clients/me/keys/" + f.keyIDA, nil},
		"GET /api/team":                                       {"", nil},
		"POST /api/team/invitations":                          {"", nil},
		"PATCH /api/team/{id}":                                {"/api/team/" + f.ownerA, map[string]any{"role": "viewer"}},
		"DELETE /api/team/{id}":                               {"/api/team/" + f.ownerA, nil},
		"GET /api/projects":                                   {"", nil},
		"POST /api/projects":                                  {"", nil},
		"GET /api/projects/{id}":                              {"/api/projects/" + f.project, nil},
		"PATCH /api/projects/{id}":                            {"/api/projects/" + f.project, map[string]any{"name": "stolen"}},
		"GET /api/projects/{id}/invitations":                  {"/api/projects/" + f.project + "/invitations", nil},
		"POST /api/projects/{id}/invitations":                 {"/api/projects/" + f.project + "/invitations", map[string]any{}},
		"GET /api/projects/{id}/recordings":                   {"/api/projects/" + f.project + "/recordings", nil},
		"POST /api/projects/{id}/recordings":                  {"/api/projects/" + f.project + "/recordings", map[string]any{"consent": map[string]any{"obtainedAt": time.Now(), "method": "x"}}},
		"DELETE /api/invitations/{key}":                       {"/api/invitations/" + f.openInv, nil},
		"GET /api/recordings/{id}":                            {"/api/recordings/" + f.rec, nil},
		"GET /api/recordings/{id}/analyses/{analysisId}":      {"/api/recordings/" + f.rec + "/analyses/" + f.an, nil},
		"DELETE /api/recordings/{id}/analyses/{analysisId}":   {"/api/recordings/" + f.rec + "/analyses/" + f.an, nil},
		"POST /api/recordings/{id}/reanalyze":                 {"/api/recordings/" + f.rec + "/reanalyze", map[string]any{}},
		"GET /api/recordings/{id}/video":                      {"/api/recordings/" + f.rec + "/video", nil},
		"DELETE /api/clients/me":                              {"", nil},
		"GET /api/clients/me/audit":                           {"", nil},
		"DELETE /api/projects/{id}":                           {"/api/projects/" + f.project, nil},
		"POST /api/projects/{id}/close":                       {"/api/projects/" + f.project + "/close", nil},
		"POST /api/projects/{id}/reopen":                      {"/api/projects/" + f.project + "/reopen", nil},
		"GET /api/projects/{id}/audit":                        {"/api/projects/" + f.project + "/audit", nil},
		"DELETE /api/recordings/{id}":                         {"/api/recordings/" + f.rec, nil},
		"GET /api/projects/{id}/export.csv":                   {"/api/projects/" + f.project + "/export.csv", nil},
		"GET /api/projects/{id}/export.json":                  {"/api/projects/" + f.project + "/export.json", nil},
		"GET /api/projects/{id}/report":                       {"/api/projects/" + f.project + "/report", nil},
		"GET /api/projects/{id}/stimuli":                      {"/api/projects/" + f.project + "/stimuli", nil},
		"POST /api/projects/{id}/stimuli":                     {"/api/projects/" + f.project + "/stimuli", map[string]any{"name": "stolen", "kind": "video"}},
		"GET /api/projects/{id}/stimuli/{stimulusId}":         {"/api/projects/" + f.project + "/stimuli/" + f.stim, nil},
		"PATCH /api/projects/{id}/stimuli/{stimulusId}":       {"/api/projects/" + f.project + "/stimuli/" + f.stim, map[string]any{"name": "stolen"}},
		"DELETE /api/projects/{id}/stimuli/{stimulusId}":      {"/api/projects/" + f.project + "/stimuli/" + f.stim, nil},
		"GET /api/projects/{id}/stimuli/{stimulusId}/results": {"/api/projects/" + f.project + "/stimuli/" + f.stim + "/results", nil},
		"GET /api/webhooks":                                   {"", nil}, // own data only: checked below
		"POST /api/webhooks":                                  {"", nil},
		"GET /api/webhooks/{id}":                              {"/api/webhooks/" + f.hook, nil},
		"DELETE /api/webhooks/{id}":                           {"/api/webhooks/" + f.hook, nil},
		"POST /api/webhooks/{id}/secret":                      {"/api/webhooks/" + f.hook + "/secret", nil},
		"POST /api/webhooks/{id}/ping":                        {"/api/webhooks/" + f.hook + "/ping", nil},

		"GET /api/projects/{id}/stimuli/{stimulusId}/results.csv": {"/api/projects/" + f.project + "/stimuli/" + f.stim + "/results.csv", nil},
	}
	before := snapshot(t, f.env)
	for _, r := range Routes() {
		if r.Auth != AccessClient {
			continue
		}
		key := r.Method + " " + r.Path
		c, ok := cases[key]
		if !ok {
			t.Errorf("route %s has no tenant-isolation case", key)
			continue
		}
		if c.path == "" {
			continue // routes without another client's id in them
		}
		st, out := f.call(r.Method, c.path, f.keyB, c.body)
		if st != 404 {
			t.Errorf("%s as another client: %d %v, want 404", key, st, out)
		}
	}
	// Lists and "me" show B only its own data.
	if items := f.must(200, "GET", "/api/projects", f.keyB, nil)["items"].([]any); len(items) != 0 {
		t.Errorf("client B lists %d projects", len(items))
	}
	if me := f.must(200, "GET", "/api/clients/me", f.keyB, nil); me["company"] != "Other Co" {
		t.Errorf("client B's me: %v", me)
	}
	if items := f.must(200, "GET", "/api/webhooks", f.keyB, nil)["items"].([]any); len(items) != 0 {
		t.Errorf("client B lists %d webhooks", len(items))
	}
	// B's endpoint, made for the project of A, is refused as unknown.
	if st, out := f.call("POST", "/api/webhooks", f.keyB, map[string]any{"url": "https://hooks.example/b", "events": []string{"project.closed"}, "projectId": f.project}); st != 422 {
		t.Errorf("client B's webhook on A's project: %d %v, want 422", st, out)
	}
	after := snapshot(t, f.env)
	// B's own reads create nothing; compare A's documents only.
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed by client B's requests", k)
		}
	}
}

// statusRows is the route x condition -> status table that README.md
// shows; TestStatusTable walks it and checks README carries each row.
type statusRow struct {
	route, condition string
	status           int
	req              func(f *fixture) (method, path, key string, body any)
}

func statusRows() []statusRow {
	ok := map[string]any{"company": "X", "contact": map[string]any{"name": "N", "email": "n@example.com"}, "demographics": map[string]any{"country": "FR"}, "dpaVersion": "1"}
	proj := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "P", "privacyMode": "retain", "useContext": "usability"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	return []statusRow{
		{"POST /api/clients", "valid, with X-Admin-Key", 201, func(f *fixture) (string, string, string, any) { return "POST", "/api/clients", "admin", ok }},
		{"POST /api/clients", "no or wrong X-Admin-Key", 401, func(f *fixture) (string, string, string, any) { return "POST", "/api/clients", f.keyA, ok }},
		{"POST /api/clients", "malformed JSON", 400, func(f *fixture) (string, string, string, any) { return "POST", "/api/clients", "admin", `{"company":` }},
		{"POST /api/clients", "unknown field", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/clients", "admin", map[string]any{"company": "X", "colour": "red"}
		}},
		{"POST /api/clients", "wrong type", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/clients", "admin", `{"company": 42}`
		}},
		{"POST /api/clients", "invalid e-mail", 400, func(f *fixture) (string, string, string, any) {
			b := map[string]any{}
			for k, v := range ok {
				b[k] = v
			}
			b["contact"] = map[string]any{"name": "N", "email": "nope"}
			return "POST", "/api/clients", "admin", b
		}},
		{"POST /api/clients", "body over 64 KiB", 413, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/clients", "admin", `{"company":"` + strings.Repeat("x", 70000) + `"}`
		}},
		{"GET /api/clients/me", "valid key", 200, func(f *fixture) (string, string, string, any) { return "GET", "/api/clients/me", f.keyA, nil }},
		{"GET /api/clients/me", "no key", 401, func(f *fixture) (string, string, string, any) { return "GET", "/api/clients/me", "", nil }},
		{"GET /api/clients/me", "unknown key", 401, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/clients/me", "fk_unknownunknownunknownunknownunknownunknown", nil
		}},
		{"POST /api/projects", "valid", 201, func(f *fixture) (string, string, string, any) { return "POST", "/api/projects", f.keyA, proj(nil) }},
		{"POST /api/projects", "prohibited use context (workplace, education)", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"useContext": "workplace"})
		}},
		{"POST /api/projects", "unknown use context or privacy mode", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"privacyMode": "sometimes"})
		}},
		{"POST /api/projects", "model set not installed", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"settings": map[string]any{"models": "huge"}})
		}},
		{"POST /api/projects", "setting out of range", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"settings": map[string]any{"sampleFps": 500}})
		}},
		{"POST /api/projects", "smoothing window out of range", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"settings": map[string]any{"smoothS": 6}})
		}},
		{"POST /api/projects", "unknown detection mode", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects", f.keyA, proj(map[string]any{"settings": map[string]any{"detect": "sometimes"}})
		}},
		{"GET /api/projects", "valid", 200, func(f *fixture) (string, string, string, any) { return "GET", "/api/projects?limit=2", f.keyA, nil }},
		{"GET /api/projects", "limit outside 1..500", 400, func(f *fixture) (string, string, string, any) { return "GET", "/api/projects?limit=501", f.keyA, nil }},
		{"GET /api/projects/{id}", "own project", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project, f.keyA, nil
		}},
		{"GET /api/projects/{id}", "unknown or malformed id, or another client's", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/pr_000000000000000000000000", f.keyA, nil
		}},
		{"PATCH /api/projects/{id}", "valid", 200, func(f *fixture) (string, string, string, any) {
			return "PATCH", "/api/projects/" + f.project, f.keyA, map[string]any{"name": "Renamed"}
		}},
		{"PATCH /api/projects/{id}", "consent text too short", 400, func(f *fixture) (string, string, string, any) {
			return "PATCH", "/api/projects/" + f.project, f.keyA, map[string]any{"consentText": "ok?"}
		}},
		{"POST /api/projects/{id}/invitations", "valid", 201, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/invitations", f.keyA, map[string]any{"participantRef": "P-7", "expiresInS": 3600}
		}},
		{"POST /api/projects/{id}/invitations", "participantRef looks like a name or e-mail", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/invitations", f.keyA, map[string]any{"participantRef": "ada@example.com"}
		}},
		{"GET /api/projects/{id}/invitations", "valid", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/invitations", f.keyA, nil
		}},
		{"GET /api/invitations/{token}", "open invitation", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/invitations/" + f.openToken, "", nil
		}},
		{"GET /api/invitations/{token}", "unknown token", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/invitations/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", nil
		}},
		{"GET /api/invitations/{token}", "used, revoked or expired", 410, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/invitations/" + f.usedToken, "", nil
		}},
		{"POST /api/invitations/{token}/consent", "accept false", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/invitations/" + f.openToken + "/consent", "", map[string]any{"accept": false, "consentVersion": "facet-default-1"}
		}},
		{"POST /api/invitations/{token}/consent", "stale consentVersion", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/invitations/" + f.openToken + "/consent", "", map[string]any{"accept": true, "consentVersion": "v-old"}
		}},
		{"POST /api/invitations/{token}/consent", "accept missing", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/invitations/" + f.openToken + "/consent", "", map[string]any{"consentVersion": "facet-default-1"}
		}},
		{"POST /api/invitations/{token}/consent", "invitation already used", 410, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/invitations/" + f.usedToken + "/consent", "", map[string]any{"accept": true, "consentVersion": "facet-default-1"}
		}},
		{"DELETE /api/invitations/{id}", "open invitation", 200, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/invitations/" + f.openInv, f.keyA, nil
		}},
		{"DELETE /api/invitations/{id}", "unknown id", 404, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/invitations/" + strings.Repeat("0", 64), f.keyA, nil
		}},
		{"POST /api/projects/{id}/recordings", "consent attested", 201, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/recordings", f.keyA, map[string]any{"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Hour), "method": "signed-form"}}
		}},
		{"POST /api/projects/{id}/recordings", "no consent attestation", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/recordings", f.keyA, map[string]any{}
		}},
		{"GET /api/projects/{id}/recordings", "valid", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/recordings", f.keyA, nil
		}},
		{"POST /api/projects/{id}/stimuli", "video or image", 201, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/stimuli", f.keyA, map[string]any{"name": "Poster", "kind": "image", "displayS": 4}
		}},
		{"POST /api/projects/{id}/stimuli", "unknown kind, or displayS for a video", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/stimuli", f.keyA, map[string]any{"name": "Jingle", "kind": "audio"}
		}},
		{"POST /api/projects/{id}/stimuli", "project closed", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.closed + "/stimuli", f.keyA, map[string]any{"name": "Late", "kind": "video"}
		}},
		{"GET /api/projects/{id}/stimuli", "own project", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli", f.keyA, nil
		}},
		{"GET /api/projects/{id}/stimuli/{stimulusId}", "own stimulus", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli/" + f.stim, f.keyA, nil
		}},
		{"GET /api/projects/{id}/stimuli/{stimulusId}", "unknown id, or another client's", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli/" + f.stim, f.keyB, nil
		}},
		{"PATCH /api/projects/{id}/stimuli/{stimulusId}", "new name or segments", 200, func(f *fixture) (string, string, string, any) {
			return "PATCH", "/api/projects/" + f.project + "/stimuli/" + f.stim, f.keyA, map[string]any{"name": "Spot A (30 s)"}
		}},
		{"GET /api/projects/{id}/stimuli/{stimulusId}/results", "stimulus not ready (its file not probed yet)", 409, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli/" + f.stim + "/results", f.keyA, nil
		}},
		{"GET /api/projects/{id}/stimuli/{stimulusId}/results", "binS out of range", 400, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli/" + f.stim + "/results?binS=0.01", f.keyA, nil
		}},
		{"GET /api/projects/{id}/stimuli/{stimulusId}/results.csv", "stimulus not ready", 409, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/stimuli/" + f.stim + "/results.csv", f.keyA, nil
		}},
		{"DELETE /api/projects/{id}/stimuli/{stimulusId}", "own stimulus", 204, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/projects/" + f.project + "/stimuli/" + f.stim, f.keyA, nil
		}},
		{"GET /api/recordings/{id}", "own recording", 200, func(f *fixture) (string, string, string, any) { return "GET", "/api/recordings/" + f.rec, f.keyA, nil }},
		{"GET /api/recordings/{id}", "unknown id", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/recordings/rec_000000000000000000000000", f.keyA, nil
		}},
		{"GET /api/recordings/{id}/analyses/{analysisId}", "finished run", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/recordings/" + f.rec + "/analyses/" + f.an, f.keyA, nil
		}},
		{"GET /api/recordings/{id}/analyses/{analysisId}", "unknown run", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/recordings/" + f.rec + "/analyses/an_000000000000000000000000", f.keyA, nil
		}},
		{"POST /api/recordings/{id}/reanalyze", "video present", 202, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/recordings/" + f.rec + "/reanalyze", f.keyA, map[string]any{"settings": map[string]any{"sampleFps": 2}}
		}},
		{"POST /api/recordings/{id}/reanalyze", "no body (the project's settings)", 202, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/recordings/" + f.rec + "/reanalyze", f.keyA, nil
		}},
		{"POST /api/recordings/{id}/reanalyze", "not uploaded yet", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/recordings/" + f.pendingRec + "/reanalyze", f.keyA, map[string]any{}
		}},
		{"POST /api/recordings/{id}/reanalyze", "model set not installed", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/recordings/" + f.rec + "/reanalyze", f.keyA, map[string]any{"settings": map[string]any{"models": "huge"}}
		}},
		{"POST /api/recordings/{id}/reanalyze", "the client's re-analyses of the hour used up", 429, func(f *fixture) (string, string, string, any) {
			for i := 0; i < app.DefaultLimits.ReanalysesPerHour; i++ { // queued, never run
				if st, _ := f.call("POST", "/api/recordings/"+f.rec+"/reanalyze", f.keyA, map[string]any{}); st == 429 {
					break
				}
			}
			return "POST", "/api/recordings/" + f.rec + "/reanalyze", f.keyA, map[string]any{}
		}},
		{"GET /api/recordings/{id}/video", "video present", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/recordings/" + f.rec + "/video", f.keyA, nil
		}},
		{"GET /api/recordings/{id}/video", "not uploaded yet", 409, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/recordings/" + f.pendingRec + "/video", f.keyA, nil
		}},
		{"DELETE /api/recordings/{id}/analyses/{analysisId}", "finished run", 204, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/recordings/" + f.rec + "/analyses/" + f.an, f.keyA, nil
		}},
		{"GET /api/invitations/{token}", "expired", 410, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/invitations/" + f.expiredToken, "", nil
		}},
		{"GET /api/invitations/{token}", "revoked", 410, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/invitations/" + f.revokedToken, "", nil
		}},
		{"POST /api/projects/{id}/invitations", "project closed", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.closed + "/invitations", f.keyA, map[string]any{}
		}},
		{"POST /api/projects/{id}/recordings", "project closed", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.closed + "/recordings", f.keyA, map[string]any{"consent": map[string]any{"obtainedAt": time.Now(), "method": "signed-form"}}
		}},
		{"PATCH /api/projects/{id}", "project closed", 409, func(f *fixture) (string, string, string, any) {
			return "PATCH", "/api/projects/" + f.closed, f.keyA, map[string]any{"name": "x"}
		}},
		{"POST /api/projects/{id}/close", "open project", 200, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.project + "/close", f.keyA, nil
		}},
		{"POST /api/projects/{id}/close", "already closed", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.closed + "/close", f.keyA, nil
		}},
		{"POST /api/projects/{id}/reopen", "closed, within the grace period", 200, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.graceClosed + "/reopen", f.keyA, nil
		}},
		{"POST /api/projects/{id}/reopen", "grace period over, or not closed", 409, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/projects/" + f.graceClosed + "/reopen", f.keyA, nil
		}},
		{"GET /api/projects/{id}/audit", "own project", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.closed + "/audit", f.keyA, nil
		}},
		{"GET /api/projects/{id}/export.json", "own project", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/" + f.project + "/export.json", f.keyA, nil
		}},
		{"GET /api/projects/{id}/export.json", "unknown project", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/projects/pr_000000000000000000000000/export.json", f.keyA, nil
		}},
		{"GET /api/clients/me/audit", "valid key", 200, func(f *fixture) (string, string, string, any) { return "GET", "/api/clients/me/audit", f.keyA, nil }},
		{"DELETE /api/recordings/{id}", "own recording", 202, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/recordings/" + f.removableRec, f.keyA, nil
		}},
		{"DELETE /api/recordings/{id}", "already removed, or unknown", 404, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/recordings/" + f.removableRec, f.keyA, nil
		}},
		{"DELETE /api/projects/{id}", "own project", 202, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/projects/" + f.removable, f.keyA, nil
		}},
		{"GET /api/clients/{id}/audit", "with X-Admin-Key", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/clients/" + f.idA + "/audit", "admin", nil
		}},
		{"GET /api/clients/{id}/audit", "unknown client, no records", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/clients/cl_000000000000000000000000/audit", "admin", nil
		}},
		{"DELETE /api/clients/{id}", "without X-Admin-Key", 401, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/clients/" + f.idC, f.keyC, nil
		}},
		{"DELETE /api/clients/me", "valid key: erasure, answers a receipt", 202, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/clients/me", f.keyC, nil
		}},
		{"DELETE /api/clients/{id}", "unknown or already erased client", 404, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/clients/" + f.idC, "admin", nil
		}},
		{"POST /api/webhooks", "https URL, known event types", 201, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks", f.keyA, map[string]any{"url": "https://hooks.example/in", "events": []string{"recording.analyzed"}, "projectId": f.project}
		}},
		{"POST /api/webhooks", "http URL, or an address that is not public", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks", f.keyA, map[string]any{"url": "https://169.254.169.254/latest", "events": []string{"recording.analyzed"}}
		}},
		{"POST /api/webhooks", "unknown event type", 400, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks", f.keyA, map[string]any{"url": "https://hooks.example/in", "events": []string{"recording.created"}}
		}},
		{"POST /api/webhooks", "projectId not the client's", 422, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks", f.keyB, map[string]any{"url": "https://hooks.example/in", "events": []string{"project.closed"}, "projectId": f.project}
		}},
		{"GET /api/webhooks", "valid key", 200, func(f *fixture) (string, string, string, any) { return "GET", "/api/webhooks", f.keyA, nil }},
		{"GET /api/webhooks/{id}", "own webhook (with its last attempts)", 200, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/webhooks/" + f.hook, f.keyA, nil
		}},
		{"GET /api/webhooks/{id}", "unknown id, or another client's", 404, func(f *fixture) (string, string, string, any) {
			return "GET", "/api/webhooks/" + f.hook, f.keyB, nil
		}},
		{"POST /api/webhooks/{id}/ping", "own webhook", 202, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks/" + f.hook + "/ping", f.keyA, nil
		}},
		{"POST /api/webhooks/{id}/secret", "own webhook (the new secret, shown once)", 200, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/webhooks/" + f.hook + "/secret", f.keyA, nil
		}},
		{"DELETE /api/webhooks/{id}", "own webhook", 204, func(f *fixture) (string, string, string, any) {
			return "DELETE", "/api/webhooks/" + f.hook, f.keyA, nil
		}},
		{"POST /api/clients/me/keys", "valid key: a new key (the others keep working)", 201, func(f *fixture) (string, string, string, any) {
			return "POST", "/api/clients/me/keys", f.keyA, map[string]any{"name": "CRM"}
		}},
	}
}

func TestStatusTable(t *testing.T) {
	f := newFixture(t)
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range statusRows() {
		method, path, key, body := row.req(f)
		st, out := f.call(method, path, key, body)
		if st != row.status {
			t.Errorf("%s, %s: %d %v, want %d", row.route, row.condition, st, out, row.status)
		}
		if st >= 400 {
			if out["type"] != ProblemType(fmt.Sprint(out["code"])) || out["detail"] == "" || out["status"] != float64(st) {
				t.Errorf("%s, %s: error body %v", row.route, row.condition, out)
			}
		}
		line := fmt.Sprintf("| `%s` | %s | %d |", row.route, row.condition, row.status)
		if !strings.Contains(string(readme), line) {
			t.Errorf("README.md lacks the status row %s", line)
		}
	}
	// A new key leaves the others working.
	if st, _ := f.call("GET", "/api/clients/me", f.keyA, nil); st != 200 {
		t.Errorf("the first key after another was made: %d", st)
	}
}

// StatusTableMarkdown prints the table for README.md (go test -run
// TestPrintStatusTable -v).
func TestPrintStatusTable(t *testing.T) {
	if os.Getenv("FACET_PRINT_STATUS_TABLE") == "" {
		return
	}
	for _, row := range statusRows() {
		fmt.Printf("| `%s` | %s | %d |\n", row.route, row.condition, row.status)
	}
}

// allowed lists, per container, every top-level field a stored document
// may have. Anything else is a privacy regression until reviewed.
var allowed = map[string][]string{
	facet.CClients:     {"id", "company", "contact", "demographics", "dpa", "keys", "createdAt", "usage"}, // usage: counts and an hour
	facet.CAPIKeys:     {"id", "clientId", "createdAt"},
	facet.CProjects:    {"id", "clientId", "name", "status", "privacyMode", "useContext", "settings", "consent", "createdAt", "updatedAt", "closedAt", "deletion", "usage"},
	facet.CInvitations: {"id", "projectId", "clientId", "participantRef", "status", "expiresAt", "createdAt", "usedAt", "recordingId"},
	facet.CRecordings:  {"id", "projectId", "clientId", "status", "participantRef", "consent", "invitationId", "blob", "uploadExpiresAt", "video", "failure", "latestAnalysis", "refusals", "createdAt", "updatedAt"},
	facet.CAnalyses: {"id", "type", "recordingId", "projectId", "clientId", "status", "settings", "blobETag", "createdAt", "startedAt", "finishedAt", "failure", "result", "chunks",
		"analysisId", "index", "t0", "frames"},
	facet.CAudit: {"id", "clientId", "projectId", "recordingId", "stimulusId", "blobHash", "sizeBytes", "reason", "trigger", "at", "type",
		"action", "accountId", "targetId", "role"}, // a security entry names accounts by id only
	// The client's people: their address and name, as for the client's
	// contact; never a participant's.
	facet.CAccounts:    {"id", "clientId", "email", "name", "role", "passwordHash", "totp", "createdAt", "passwordAt"},
	facet.CLogins:      {"id", "accountId"},
	facet.CSessions:    {"id", "ref", "accountId", "csrf", "createdAt", "seenAt", "expiresAt", "userAgent"},
	facet.CTeamInvites: {"id", "ref", "clientId", "email", "role", "invitedBy", "createdAt", "expiresAt", "usedAt"},
	facet.CWebhooks: {"id", "clientId", "projectId", "url", "events", "status", "secret", "previousSecret", "previousUntil", "failingSince", "disabledAt",
		"createdAt", "updatedAt", "attempts"},
	facet.CStimuli: {"id", "clientId", "projectId", "name", "kind", "displayS", "status", "refusal", "media", "thumbnails", "segments",
		"uploadExpiresAt", "createdAt", "updatedAt"},
}

var emailLike = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[a-z]{2,}`)

// TestPrivacyAllowList reads every document of a finished flow: only
// allowed fields, no e-mail address outside the client's own record, no
// long opaque strings (image data), no free text about participants.
func TestPrivacyAllowList(t *testing.T) {
	f := newFixture(t)
	docs := snapshot(t, f.env)
	if len(docs) < 8 {
		t.Fatalf("only %d documents", len(docs))
	}
	for key, raw := range docs {
		container := key[:strings.Index(key, "/")]
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatal(err)
		}
		for field := range doc {
			if !contains(allowed[container], field) {
				t.Errorf("%s: field %q is not on the allow-list", key, field)
			}
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					walk(path+"."+k, c)
				}
			case []any:
				for i, c := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			case string:
				if container != facet.CClients && container != facet.CAccounts && container != facet.CTeamInvites && emailLike.MatchString(x) {
					t.Errorf("%s%s: e-mail address stored: %q", key, path, x)
				}
				if len(x) > 300 && path != ".consent.text" {
					t.Errorf("%s%s: a %d-character string (image data? free text?)", key, path, len(x))
				}
			}
		}
		walk("", doc)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInvitationListShowsExpired: an open invitation past its expiry is
// listed as expired, as its link answers (410), not as open.
func TestInvitationListShowsExpired(t *testing.T) {
	f := newFixture(t)
	st, _ := f.call("GET", "/api/invitations/"+f.expiredToken, "", nil)
	if st != 410 {
		t.Fatalf("the expired link answers %d", st)
	}
	seen := map[string]int{}
	for _, it := range f.must(200, "GET", "/api/projects/"+f.project+"/invitations", f.keyA, nil)["items"].([]any) {
		seen[it.(map[string]any)["status"].(string)]++
	}
	if seen["expired"] != 1 || seen["revoked"] != 1 || seen["used"] != 2 || seen["open"] != 1 {
		t.Errorf("statuses listed %v, want open 1, used 2 (the fixture's upload and its used link), revoked 1, expired 1", seen)
	}
}
