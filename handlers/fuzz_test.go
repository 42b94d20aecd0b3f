package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/inmem"
)

// Fuzz targets for what the handler reads from callers: every route's
// JSON body, the invocation bodies of the triggers, the ids in paths, the
// Authorization header and the paging query. Each input runs through the
// real ServeMux over a fresh in-memory app, so it always does the same
// thing; the analyser is a fake (uploads are not fuzzed).

// fuzzAnalyzer analyses any file into three frames with one face each.
type fuzzAnalyzer struct{}

func (fuzzAnalyzer) AnalyzeFile(ctx context.Context, input string, s facet.Settings, maxDurationS float64, onFrame func(facet.Frame) error) (*facet.Result, error) {
	for i := range 3 {
		var e facet.Emotions
		e[facet.EmotionIndex("happy")] = 1
		dom := "happy"
		if err := onFrame(facet.Frame{T: facet.Num(float64(i) / 5), Faces: []facet.Face{{Box: [4]facet.Num{0.4, 0.3, 0.2, 0.3}, Score: 0.9, Emotions: &e, Dominant: &dom}}}); err != nil {
			return nil, err
		}
	}
	return &facet.Result{Video: facet.VideoInfo{DurationS: 0.6, Width: 640, Height: 480, FPS: 30, Codec: "h264"}, Settings: s, Summary: facet.Summary{Frames: 3}}, nil
}

func (fuzzAnalyzer) Installed(models string) error {
	if models == "default" || models == "fast" {
		return nil
	}
	return errors.New("not installed")
}

const fuzzAdminKey = "admin-fuzz-key-0123456789"

// fuzzAPI is a handler over a fresh in-memory app holding one of each
// thing a request can name: a client, an open project, an invitation and
// an analysed recording.
type fuzzAPI struct {
	t       *testing.T
	mux     http.Handler
	app     *app.App
	key     string
	session *app.SignedIn     // the client's owner, signed in
	names   *strings.Replacer // {cl} {pr} {rec} {an} {token} {inv} {cv} {key} {se} {ac} {ak} {ti} in paths and bodies
}

func newFuzzAPI(t *testing.T) *fuzzAPI {
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	store, blobs, queue := inmem.NewDocStore(), inmem.NewBlobStore("http://127.0.0.1:1/uploads"), inmem.NewQueue(10, time.Minute)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := app.New(app.Config{PublicBaseURL: "https://facet.example", StorageAccount: "devstoreaccount1", TempDir: t.TempDir()}, store, blobs, queue, fuzzAnalyzer{}, log)
	c, key, err := a.CreateClient(ctx, app.NewClient{Company: "Fuzz Ltd", Contact: facet.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: facet.Demographics{Country: "DE"}, DPAVersion: "2026-01"}, true)
	must(err)
	text := "Your webcam video is analysed for facial expressions, then deleted."
	p, err := a.CreateProject(ctx, c, app.NewProject{Name: "Fuzz", PrivacyMode: facet.PrivacyRetain, UseContext: "media-testing", ConsentText: &text})
	must(err)
	inv, token, err := a.CreateInvitation(ctx, c, p.ID, app.NewInvitation{ParticipantRef: "P-001"})
	must(err)
	now := time.Now().Add(-time.Hour)
	slot, err := a.CreateRecording(ctx, c, p.ID, app.NewRecording{Consent: &app.ClientConsent{ObtainedAt: &now, Method: "signed-form"}})
	must(err)
	info, err := blobs.Upload(ctx, p.ID+"/"+slot.RecordingID, strings.NewReader("a video"))
	must(err)
	_, err = a.BlobCreated(ctx, app.BlobEvent{EventType: "Microsoft.Storage.BlobCreated", ETag: info.ETag, ContentLength: info.Size,
		Topic:   "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/" + app.UploadsContainer + "/blobs/" + p.ID + "/" + slot.RecordingID})
	must(err)
	ds, err := queue.Receive(ctx, facet.QAnalysis, 1, time.Millisecond)
	must(err)
	if len(ds) != 1 {
		t.Fatalf("%d analysis messages queued, want 1", len(ds))
	}
	_, err = a.RunAnalysis(ctx, ds[0].Body)
	must(err)
	var job app.AnalysisJob
	must(json.Unmarshal(ds[0].Body, &job))
	a.Hooks = &inmem.Hooks{}
	wh, err := a.CreateWebhook(ctx, c, app.NewWebhook{URL: "https://hooks.example/facet", Events: []facet.EventType{facet.EvRecordingAnalyzed}})
	must(err)
	st, err := a.CreateStimulus(ctx, c, p.ID, app.NewStimulus{Name: "Spot A", Kind: facet.StimVideo})
	must(err)
	mail := &inmem.Mailer{}
	a.Mail = mail
	_, err = a.Invite(ctx, c.ID, nil, "owner@example.com", facet.RoleOwner)
	must(err)
	in, err := a.SignUp(ctx, mailToken(t, mail), app.NewMember{Name: "Olga Owner", Password: "correct horse battery staple"}, "fuzz")
	must(err)
	_, err = a.Invite(ctx, c.ID, in.Account, "viewer@example.com", facet.RoleViewer)
	must(err)
	// The reference's script installed, as in a deployment: /api/docs is then a page, not 503.
	h := &Handler{App: a, AdminKey: fuzzAdminKey, Log: log, APIDocs: fstest.MapFS{APIDocsScript: {Data: []byte("/* redoc */")}}}
	return &fuzzAPI{t: t, mux: h.ServeMux(), app: a, key: key, session: in, names: strings.NewReplacer("{cl}", c.ID, "{pr}", p.ID,
		"{rec}", slot.RecordingID, "{an}", job.AnalysisID, "{token}", token, "{inv}", inv.ID, "{cv}", p.Consent.Version, "{key}", key, "{wh}", wh.ID, "{st}", st.Stimulus.ID,
		"{se}", in.Session.Ref, "{ac}", in.Account.ID, "{ak}", c.Keys[0].ID, "{ti}", mailToken(t, mail))}
}

// do sends one request to target (an escaped path) with the raw query
// and the credentials that access asks for.
func (f *fuzzAPI) do(method, target, query string, access Access, body []byte) *httptest.ResponseRecorder {
	u, err := url.Parse(target)
	if err != nil {
		f.t.Fatalf("%s: %v", target, err)
	}
	u.RawQuery = query
	r := httptest.NewRequest(method, "http://facet.example/", bytes.NewReader(body))
	r.URL, r.RequestURI = u, u.RequestURI()
	r.Header.Set("Content-Type", "application/json")
	switch access {
	case AccessAdmin:
		r.Header.Set("X-Admin-Key", fuzzAdminKey)
	case AccessClient:
		r.Header.Set("Authorization", "Bearer "+f.key)
	case AccessSession:
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: f.session.Cookie})
		r.Header.Set(CSRFHeader, f.session.Session.CSRF)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

// fuzzLeaks are words of Go and of the adapters that an answer must not
// show a caller: Go types and packages, decoder internals, store names,
// Go's reference time layout. A word the request itself held may come
// back (an unknown field's name, say).
var fuzzLeaks = []string{"app.", "facet.", "handlers.", "cosmosdb", "inmem", "azureblob", "json:", "Go ", "UnmarshalJSON",
	"time.Time", "float64", "int64", "map[", "[]string", "*", "reflect", "goroutine", "Z07:00", "panic"}

// fuzzCheckAnswer checks the shape every /api/ answer has: 2xx or 4xx,
// never 5xx; errors as problems (RFC 9457) with the status of
// their code, in the API's words.
func fuzzCheckAnswer(t *testing.T, what string, sent []byte, w *httptest.ResponseRecorder) {
	t.Helper()
	st := w.Code
	if st < 200 || st >= 300 && st < 400 || st >= 500 {
		t.Fatalf("%s: status %d: %s", what, st, w.Body.Bytes())
	}
	if st < 400 {
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: %d answered with Content-Type %q", what, st, ct)
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %d answered %s (%v), want a problem", what, st, w.Body.Bytes(), err)
	}
	if p.Detail == "" || p.Status != st || status[p.Code] != st || p.Type != ProblemType(p.Code) || !utf8.ValidString(p.Detail) {
		t.Fatalf("%s: %d answered %s: want type, title, status and detail of its code", what, st, w.Body.Bytes())
	}
	said := fuzzSaid(sent)
	for _, leak := range fuzzLeaks {
		if strings.Contains(p.Detail, leak) && !strings.Contains(said, leak) {
			t.Fatalf("%s: %d answered %q, which shows %q", what, st, p.Detail, leak)
		}
	}
}

// fuzzSaid is what a request said: its bytes, and the text of each JSON
// string in it (an answer may quote a field's name or value back).
func fuzzSaid(sent []byte) string {
	var b strings.Builder
	b.Write(sent)
	dec := json.NewDecoder(bytes.NewReader(sent))
	for {
		tok, err := dec.Token()
		if err != nil {
			return b.String()
		}
		if s, ok := tok.(string); ok {
			b.WriteString("\x00" + s)
		}
	}
}

// Known issues: what the targets found outside this file's reach,
// reported with issue 11 and not fixed yet. Each is matched narrowly so
// that the targets still stop at anything else; delete an entry when its
// fix lands and run `make fuzz`.

// fuzzRoute is an API route, its path with the placeholders of the ids
// that exist in a fuzzAPI, and whether its handler decodes a JSON body.
type fuzzRoute struct {
	Route
	target string
	json   bool
}

// fuzzJSONRoutes are the routes whose handler decodes a JSON body.
var fuzzJSONRoutes = []string{"POST /api/clients", "POST /api/projects", "PATCH /api/projects/{id}", "POST /api/projects/{id}/invitations",
	"POST /api/projects/{id}/recordings", "POST /api/invitations/{key}/consent", "POST /api/recordings/{id}/reanalyze", "POST /api/webhooks",
	"POST /api/projects/{id}/stimuli", "PATCH /api/projects/{id}/stimuli/{stimulusId}"}

func fuzzRoutes() []fuzzRoute {
	var out []fuzzRoute
	for _, rt := range Routes() {
		if !strings.HasPrefix(rt.Path, "/api/") {
			continue
		}
		key := "{token}"
		if rt.Method == "DELETE" {
			key = "{inv}"
		}
		thing := map[string]string{"clients": "{cl}", "projects": "{pr}", "recordings": "{rec}", "webhooks": "{wh}", "account": "{se}", "team": "{ac}"}[strings.Split(rt.Path, "/")[2]]
		if strings.Contains(rt.Path, "/keys/") {
			thing = "{ak}"
		}
		if strings.HasPrefix(rt.Path, "/api/signup/") {
			key = "{ti}"
		}
		target := strings.NewReplacer("{id}", thing, "{analysisId}", "{an}", "{stimulusId}", "{st}", "{key}", key, "{token}", key).Replace(rt.Path)
		out = append(out, fuzzRoute{rt, target, slices.Contains(fuzzJSONRoutes, rt.Method+" "+rt.Path)})
	}
	return out
}

// fuzzBodies are request bodies: the README's examples for each route,
// then what is wrong with bodies in general.
var fuzzBodies = map[string][]string{
	"POST /api/clients": {`{"company":"Acme Research","contact":{"name":"Ada Example","email":"ada@example.com","phone":"+49 30 1234"},"demographics":{"country":"DE","sector":"market research","size":"50-249"},"dpaVersion":"2026-01"}`,
		`{"company":"Acme","contact":{"name":"Ada","email":"not-an-address"},"demographics":{"country":"de"},"dpaVersion":"2026-01"}`},
	"POST /api/projects": {`{"name": "Trailer test", "privacyMode": "retain", "useContext": "media-testing", "settings": {"sampleFps": 5}}`,
		`{"name":"Office mood","privacyMode":"delete-after-analysis","useContext":"workplace"}`,
		`{"name":"x","privacyMode":"retain","useContext":"other","settings":{"models":"../x","maxUploadBytes":1e20},"consentText":"short"}`},
	"PATCH /api/projects/{id}": {`{"name":"Renamed","settings":{"maxRetentionDays":30,"smoothS":0.5,"deletionGraceS":0},"consentText":"A new text that is long enough to be a consent text for a study."}`,
		`{"settings":{"sampleFps":-1}}`, `{"settings":null,"name":null}`},
	"POST /api/projects/{id}/invitations": {`{"participantRef":"P-001","expiresInS":3600}`, `{"participantRef":"ada@example.com"}`, `{"expiresInS":9223372036854775808}`},
	"POST /api/projects/{id}/recordings": {`{"participantRef":"P-002","consent":{"obtainedAt":"2026-01-15T10:00:00Z","method":"signed-form"}}`,
		`{"consent":{"obtainedAt":"yesterday","method":"x"}}`, `{"consent":{"obtainedAt":"0001-01-01T00:00:00Z","method":"signed-form"}}`},
	"POST /api/invitations/{key}/consent":           {`{"accept":true,"consentVersion":"{cv}"}`, `{"accept":false,"consentVersion":"{cv}","accept":true}`, `{"accept":"yes"}`},
	"POST /api/recordings/{id}/reanalyze":           {`{"settings":{"sampleFps":2,"models":"fast","smoothS":0,"detect":"track"}}`, `{"settings":{"models":"missing"}}`, `{}`},
	"POST /api/projects/{id}/stimuli":               {`{"name":"Spot A","kind":"video"}`, `{"name":"Poster","kind":"image","displayS":4}`, `{"name":"x","kind":"audio"}`, `{"name":"x","kind":"image","displayS":1e9}`},
	"PATCH /api/projects/{id}/stimuli/{stimulusId}": {`{"name":"Renamed","segments":[{"name":"reveal","fromS":1,"toS":2}]}`, `{"segments":[{"name":"","fromS":2,"toS":1}]}`, `{"displayS":3}`},
	"POST /api/webhooks": {`{"url":"https://hooks.example/in","events":["recording.analyzed","project.closed"],"projectId":"{pr}"}`,
		`{"url":"http://127.0.0.1:9/x","events":["recording.analyzed"]}`, `{"url":"https://169.254.169.254/","events":["ping"]}`, `{"url":"https://a.example","events":[]}`},
	"": {`{}`, `null`, ` null `, ``, ` `, `[]`, `"x"`, `7`, `{"name":7}`, `{"a":1}`, `{} {}`, `{}x`, "{\"name\":\"bad\xff\"}", `{"name":"\u0000"}`,
		`{"settings":{"sampleFps":"five"}}`, `{"contact":{"name":["x"]}}`, `{"consent":{"obtainedAt":5}}`, `{"name":"x","name":"y"}`, `{"a":{"b":1,"b":2}}`, `{"`},
}

// FuzzAPIBodies sends arbitrary bytes as the body of every API route,
// with valid credentials and ids, through the real ServeMux. Whatever the
// body, the answer is 2xx or 4xx in the API's shape and words (see
// fuzzCheckAnswer), JSON when it says so; and a route that reads a JSON
// body refuses anything that is not a JSON object with 400.
func FuzzAPIBodies(f *testing.F) {
	routes := fuzzRoutes()
	var jsonIdx []int
	for i, rt := range routes {
		if rt.json {
			jsonIdx = append(jsonIdx, i)
			for _, s := range fuzzBodies[rt.Method+" "+rt.Path] {
				f.Add(uint8(i), []byte(s))
			}
		}
	}
	for k, s := range fuzzBodies[""] { // each general seed on one route
		f.Add(uint8(jsonIdx[k%len(jsonIdx)]), []byte(s))
	}
	f.Fuzz(func(t *testing.T, n uint8, body []byte) {
		rt := routes[int(n)%len(routes)]
		api := newFuzzAPI(t)
		body = []byte(api.names.Replace(string(body)))
		w := api.do(rt.Method, api.names.Replace(rt.target), "", rt.Auth, body)
		what := rt.Method + " " + rt.Path + " " + strconv.Quote(string(body))
		fuzzCheckAnswer(t, what, body, w)
		if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: %d answered %q as JSON", what, w.Code, w.Body.Bytes())
		}
		if rt.json && !fuzzIsObject(body) && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: a body that is not a JSON object answered %d: %s", what, w.Code, w.Body.Bytes())
		}
	})
}

// fuzzIsObject reports whether body is one JSON object in UTF-8.
func fuzzIsObject(body []byte) bool {
	trimmed := bytes.TrimSpace(body)
	return utf8.Valid(body) && json.Valid(body) && len(trimmed) > 0 && trimmed[0] == '{'
}

// FuzzTriggers posts arbitrary invocation bodies to every trigger. Over
// stores in memory nothing is transient, so every answer is 200 (an
// unreadable event or message is recorded and dropped, never retried) in
// the shape the host needs: JSON with Outputs and at least one log line.
func FuzzTriggers(f *testing.F) {
	names := make([]string, 0, len(Triggers))
	for name := range Triggers {
		names = append(names, name)
	}
	sort.Strings(names)
	for k, s := range fuzzInvocations {
		for i, name := range names { // each seed to its trigger, the broken ones to all
			if k >= 6 || strings.Contains(s, map[string]string{"AnalyzeRecording": `"event"`, "DeleteData": `"scope`, "RunAnalysis": `"analysisId`, "RetentionSweep": `"timer"`}[name]) {
				f.Add(uint8(i), []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, n uint8, body []byte) {
		name := names[int(n)%len(names)]
		api := newFuzzAPI(t)
		body = []byte(api.names.Replace(string(body)))
		r := httptest.NewRequest("POST", "/"+name, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
		r.Header.Set("X-Azure-Functions-InvocationId", "fuzz")
		w := httptest.NewRecorder()
		api.mux.ServeHTTP(w, r)
		var answer struct {
			Outputs map[string]json.RawMessage
			Logs    []string
		}
		err := json.Unmarshal(w.Body.Bytes(), &answer)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || err != nil || answer.Outputs == nil || len(answer.Logs) == 0 {
			t.Fatalf("%s %q: %d %s %s (%v)", name, body, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes(), err)
		}
	})
}

// fuzzInvocations are invocation bodies as the host posts them (see
// internal/invoke/testdata), naming the fuzzAPI's things, and broken ones.
var fuzzInvocations = []string{
	`{"Data":{"event":{"topic":"/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1","subject":"/blobServices/default/containers/uploads/blobs/{pr}/{rec}","eventType":"Microsoft.Storage.BlobCreated","eventTime":"2026-03-02T10:15:29Z","id":"e-1","data":{"api":"PutBlockList","eTag":"0x8D4BCC2E4835CD0","contentType":"video/webm","contentLength":524288,"blobType":"BlockBlob","url":"http://127.0.0.1:1/uploads/{pr}/{rec}","sequencer":"01"},"dataVersion":"","metadataVersion":"1"}},"Metadata":{"sys":{"MethodName":"AnalyzeRecording","UtcNow":"2026-03-02T10:15:30Z","RandGuid":"3f2b8c1e-9d4a-4e6b-8f0c-5a7d2e1b9c30"}}}`,
	`{"Data":{"event":{"topic":"/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/other","subject":"/blobServices/default/containers/uploads/blobs/../x","eventType":"Microsoft.Storage.BlobDeleted","id":"e-2","data":{}}},"Metadata":{}}`,
	`{"Data":{"message":"\"{\\\"recordingId\\\":\\\"{rec}\\\",\\\"projectId\\\":\\\"{pr}\\\",\\\"analysisId\\\":\\\"{an}\\\"}\""},"Metadata":{"DeliveryCount":"1","MessageId":"\"{an}\"","SequenceNumber":"1","EnqueuedTimeUtc":"2026-03-02T10:15:30","sys":{"MethodName":"RunAnalysis","UtcNow":"2026-03-02T10:15:31Z","RandGuid":"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"}}}`,
	`{"Data":{"message":"\"{\\\"scope\\\":\\\"recording\\\",\\\"clientId\\\":\\\"{cl}\\\",\\\"projectId\\\":\\\"{pr}\\\",\\\"recordingId\\\":\\\"{rec}\\\",\\\"reason\\\":\\\"recording-removed\\\",\\\"trigger\\\":\\\"api\\\"}\""},"Metadata":{"DeliveryCount":"2","MessageId":"\"m-1\""}}`,
	`{"Data":{"message":"\"not json\""},"Metadata":{"DeliveryCount":"-1","MessageId":"\"m\""}}`,
	`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-03-01T22:00:00.0123456+00:00","Next":"2026-03-01T23:00:00+00:00","LastUpdated":"2026-03-01T22:00:00.0123456+00:00"},"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"RetentionSweep","UtcNow":"2026-03-02T07:12:04.0345678Z","RandGuid":"e4d3c2b1"}}}`,
	`{}`, `{"Data":{"message":null,"event":null,"timer":null}}`, `[]`, ``, `{"Data":{}} {}`,
}

// FuzzPathIDs puts an arbitrary string where each route has an id or an
// invitation key, with valid credentials and body. Whatever it is, the
// answer is in the API's shape (fuzzCheckAnswer); an id that cannot exist
// is 404, the same as an unknown one.
func FuzzPathIDs(f *testing.F) {
	routes := fuzzRoutes()
	ids := []string{"rec_0123456789abcdef01234567", "rec_%23abc", "..", ".", "a/b", "pr_\\..\\x", "{token}x", " ", "\x00", "%", "?x=1", "{inv}\n", "{PR}"}
	k := 0
	for i, rt := range routes {
		if strings.Contains(rt.Path, "{") { // the route's own id, and one other string
			f.Add(uint8(i), "{"+strings.Split(strings.Split(rt.target, "{")[1], "}")[0]+"}")
			f.Add(uint8(i), ids[k%len(ids)])
			k++
		}
	}
	f.Fuzz(func(t *testing.T, n uint8, id string) {
		rt := routes[int(n)%len(routes)]
		if !strings.Contains(rt.Path, "{") {
			return
		}
		api := newFuzzAPI(t)
		id = api.names.Replace(id)
		target := strings.NewReplacer("{pr}", "{id}", "{rec}", "{id}", "{cl}", "{id}", "{token}", "{id}", "{inv}", "{id}", "{wh}", "{id}",
			"{se}", "{id}", "{ac}", "{id}", "{ak}", "{id}", "{ti}", "{id}").Replace(rt.target)
		target = api.names.Replace(strings.Replace(target, "{id}", url.PathEscape(id), 1))
		w := api.do(rt.Method, target, "", rt.Auth, []byte(api.names.Replace(`{"accept":true,"consentVersion":"{cv}"}`)))
		if w.Code/100 == 3 && path.Clean(target) != target {
			return // ServeMux redirects a path with . or .. segments to its clean form
		}
		what := rt.Method + " " + rt.Path + " with " + strconv.Quote(id)
		fuzzCheckAnswer(t, what, []byte(id), w)
		if strings.Contains(rt.Path, "{id}") && !facet.ValidID(id) && w.Code != http.StatusNotFound {
			t.Fatalf("%s: an id that cannot exist answered %d, want 404: %s", what, w.Code, w.Body.Bytes())
		}
	})
}

// FuzzRequestParsers tries arbitrary Authorization headers and query
// strings. bearer accepts exactly "Bearer" (any case), spaces, and a
// credential, which it returns trimmed; page accepts exactly a limit of 1
// to 500 (default 50) and hands the continuation token on as given. Sent
// to list routes, any of them answers in the API's shape: 401 without a
// bearer credential, 400 for a bad limit.
func FuzzRequestParsers(f *testing.F) {
	for _, s := range [][2]string{
		{"Bearer {key}", ""}, {"bearer   {key}  ", "limit=500"}, {"BEARER {key}", "limit=1&continuationToken=abc"}, {"Basic abc", "limit=0"},
		{"Bearer", "limit=501"}, {"Bearer ", "limit=+5"}, {"Bearer\t{key}", "limit=05"}, {" Bearer a b", "limit=1e2"}, {"", "limit="},
		{"Bearer {key}", "continuationToken=eyJrIjpbMV0sImkiOiJ4IiwicCI6InkifQ"}, {"Bearer {key}", "continuationToken=%ZZ&limit=2"},
		{"Bearer {key}", "limit=50&limit=600"}, {"Bearer fk_x", "a;b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, auth, query string) {
		fuzzCheckBearer(t, auth)
		r := &http.Request{URL: &url.URL{Path: "/api/projects", RawQuery: query}}
		limit, cont, err := page(r)
		q := r.URL.Query()
		want, werr := 50, error(nil)
		if v := q.Get("limit"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= 500 {
				want = n
			} else {
				werr = errors.New("bad limit")
			}
		}
		if (err == nil) != (werr == nil) || err == nil && (limit != want || cont != q.Get("continuationToken")) || err != nil && facet.ErrorCode(err) != facet.EInvalid {
			t.Fatalf("page(%q) = %d, %q, %v; want %d, %q, %v", query, limit, cont, err, want, q.Get("continuationToken"), werr)
		}
		api := newFuzzAPI(t)
		auth = api.names.Replace(auth)
		for _, p := range []string{"/api/projects", api.names.Replace("/api/projects/{pr}/recordings")} {
			w := api.doAuth(p, query, auth)
			what := "GET " + p + "?" + query + " with Authorization " + strconv.Quote(auth)
			fuzzCheckAnswer(t, what, []byte(auth+query), w)
			if _, ok := bearer(auth); !ok && w.Code != http.StatusUnauthorized {
				t.Fatalf("%s: %d without a bearer credential", what, w.Code)
			}
		}
	})
}

// fuzzCheckBearer checks bearer against the header's grammar written out.
func fuzzCheckBearer(t *testing.T, h string) {
	t.Helper()
	cred, ok := bearer(h)
	s := strings.TrimSpace(h)
	want := len(s) > 7 && strings.EqualFold(s[:6], "Bearer") && s[6] == ' ' && strings.TrimSpace(s[7:]) != ""
	if ok != want || ok && cred != strings.TrimSpace(s[7:]) {
		t.Fatalf("bearer(%q) = %q, %v; want ok=%v", h, cred, ok, want)
	}
	if k := strings.TrimSpace(cred); k != "" {
		if back, ok := bearer("Bearer " + k); !ok || back != k {
			t.Fatalf("bearer(\"Bearer \" + %q) = %q, %v", k, back, ok)
		}
	}
}

// doAuth sends GET target?query with the Authorization header as given.
func (f *fuzzAPI) doAuth(target, query, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://facet.example/", nil)
	r.URL = &url.URL{Path: target, RawQuery: query}
	r.RequestURI = r.URL.RequestURI()
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}
