package acsemail_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/acsemail"
	"github.com/humaninsight/facet/internal/porttest"
)

const (
	fakeToken = "fake-entra-token"
	sender    = "DoNotReply@0a1b2c3d-0000-4000-8000-00000000abcd.azurecomms.net"
)

// fakeCred is an azcore.TokenCredential that hands out fakeToken, or err,
// and records the scopes asked for.
type fakeCred struct {
	mu     sync.Mutex
	scopes [][]string
	err    error
}

func (c *fakeCred) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, opts.Scopes)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// request is what the fake service saw of one request.
type request struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// fakeACS stands in for the Email API: it checks the token, queues each
// well-formed mail once per Repeatability-Request-Id (a repeat gets the
// same 202 without a second mail, as the service promises), and keeps
// every request. answer, when set, may answer a request (its 0-based
// number) instead; returning 0 lets the fake go on as usual. loseAnswer,
// when set and true for a request, drops the connection after the mail
// is queued, as a network failure on the way back would.
type fakeACS struct {
	mu         sync.Mutex
	requests   []request
	mails      []facet.Mail
	seen       map[string]bool
	answer     func(n int, w http.ResponseWriter) int
	loseAnswer func(n int) bool
}

func (f *fakeACS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	answer := f.answer
	f.mu.Unlock()
	if answer != nil && answer(n, w) != 0 {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var msg struct {
		SenderAddress string `json:"senderAddress"`
		Recipients    struct {
			To []struct {
				Address string `json:"address"`
			} `json:"to"`
		} `json:"recipients"`
		Content struct {
			Subject   string `json:"subject"`
			PlainText string `json:"plainText"`
			HTML      string `json:"html"`
		} `json:"content"`
		UserEngagementTrackingDisabled bool `json:"userEngagementTrackingDisabled"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil || len(msg.Recipients.To) != 1 {
		w.Header().Set("x-ms-error-code", "BadRequest")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := r.Header.Get("Repeatability-Request-Id")
	f.mu.Lock()
	if !f.seen[id] {
		f.seen[id] = true
		f.mails = append(f.mails, facet.Mail{To: msg.Recipients.To[0].Address, Subject: msg.Content.Subject, Text: msg.Content.PlainText, HTML: msg.Content.HTML})
	}
	f.mu.Unlock()
	if f.loseAnswer != nil && f.loseAnswer(n) {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Operation-Location", "https://"+r.Host+"/emails/operations/"+r.Header.Get("Operation-Id")+"?api-version=2023-03-31")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"id": r.Header.Get("Operation-Id"), "status": "Running"})
}

func (f *fakeACS) Mails() []facet.Mail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]facet.Mail(nil), f.mails...)
}

func (f *fakeACS) Requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// start serves a fresh fake over TLS (the bearer token policy refuses
// plain http) and returns it with a Mailer that sends to it.
func start(t *testing.T, cred *fakeCred, opt *acsemail.Options) (*fakeACS, *acsemail.Mailer) {
	t.Helper()
	f := &fakeACS{seen: map[string]bool{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	if opt == nil {
		opt = &acsemail.Options{}
	}
	opt.Transport = srv.Client()
	m, err := acsemail.New(srv.URL, sender, cred, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

func TestMailerPort(t *testing.T) {
	porttest.Mailer(t, func(t *testing.T) (facet.Mailer, func() []facet.Mail) {
		f, m := start(t, &fakeCred{}, nil)
		return m, f.Mails
	})
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequest checks one request against the API reference: method, path,
// query, headers and the JSON body, field by field.
func TestRequest(t *testing.T) {
	cred := &fakeCred{}
	f, m := start(t, cred, nil)
	mail := facet.Mail{To: "dana@research.example", Subject: "Join Demo Research on facet", Text: "Open https://facet.example/app/signup#tok_1.\r\n", HTML: `<p><a href="https://facet.example/app/signup#tok_1">Join</a> &amp; go</p>`}
	if err := m.Send(t.Context(), mail); err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the service saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/emails:send" || r.query != "api-version=2023-03-31" {
		t.Errorf("request = %s %s?%s, want POST /emails:send?api-version=2023-03-31", r.method, r.path, r.query)
	}
	for name, want := range map[string]string{"Authorization": "Bearer " + fakeToken, "Content-Type": "application/json"} {
		if got := r.header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	id := r.header.Get("Operation-Id")
	if !uuidV4.MatchString(id) || r.header.Get("Repeatability-Request-Id") != id {
		t.Errorf("Operation-Id %q, Repeatability-Request-Id %q: want one random UUID in both", id, r.header.Get("Repeatability-Request-Id"))
	}
	first := r.header.Get("Repeatability-First-Sent")
	at, err := http.ParseTime(first)
	if err != nil || at.UTC().Format(http.TimeFormat) != first || time.Since(at) > time.Minute || time.Until(at) > time.Second {
		t.Errorf("Repeatability-First-Sent %q (%v): want the time of sending in IMF-fixdate", first, err)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"senderAddress":                  sender,
		"recipients":                     map[string]any{"to": []any{map[string]any{"address": mail.To}}},
		"content":                        map[string]any{"subject": mail.Subject, "plainText": mail.Text, "html": mail.HTML},
		"userEngagementTrackingDisabled": true,
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"https://communication.azure.com//.default"}}, cred.scopes); diff != "" {
		t.Errorf("token scopes (-want +got):\n%s", diff)
	}
}

// TestRequestNoHTML: a mail without HTML sends no html field.
func TestRequestNoHTML(t *testing.T) {
	f, m := start(t, &fakeCred{}, nil)
	if err := m.Send(t.Context(), facet.Mail{To: "dana@research.example", Subject: "Hi", Text: "Plain."}); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Content map[string]any `json:"content"`
	}
	if err := json.Unmarshal(f.Requests()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"subject": "Hi", "plainText": "Plain."}, body.Content); diff != "" {
		t.Errorf("content (-want +got):\n%s", diff)
	}
}
