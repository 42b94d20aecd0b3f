package app

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/humaninsight/facet"
)

// Fuzz targets for what arrives from outside: queue message bodies and the
// participant's and client's secrets. Each input runs against a fresh
// in-memory environment, so an input always does the same thing.

// fuzzWorld is a test environment with one of each thing a message or a
// key can name, and the placeholders that let fuzzed input name them.
type fuzzWorld struct {
	*testEnv
	c                  *facet.Client
	key                string
	retain, byDesign   *facet.Project
	uploaded, awaiting string // recordings in retain
	designed           string // an uploaded recording in byDesign
	token, invitation  string // an open invitation's token and id
	names              *strings.Replacer
}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	w := &fuzzWorld{testEnv: newTestEnv(t)}
	c, key, err := w.app.CreateClient(w.ctx, NewClient{Company: "Fuzz Ltd", Contact: facet.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: facet.Demographics{Country: "DE"}, DPAVersion: "2026-01"}, true)
	w.must(err)
	w.c, w.key = c, key
	w.retain, w.byDesign = w.fuzzProject(facet.PrivacyRetain), w.fuzzProject(facet.PrivacyDeleteAfterAnalysis)
	w.uploaded, w.awaiting, w.designed = w.testEnv.uploaded(c, w.retain), w.slot(c, w.retain), w.testEnv.uploaded(c, w.byDesign)
	inv, token, err := w.app.CreateInvitation(w.ctx, c, w.retain.ID, NewInvitation{ParticipantRef: "P-002"})
	w.must(err)
	w.token, w.invitation = token, inv.ID
	w.names = strings.NewReplacer("{cl}", c.ID, "{pr}", w.retain.ID, "{pd}", w.byDesign.ID, "{rec}", w.uploaded, "{wait}", w.awaiting,
		"{recd}", w.designed, "{an}", w.recording(w.retain.ID, w.uploaded).LatestAnalysis, "{and}", w.recording(w.byDesign.ID, w.designed).LatestAnalysis,
		"{token}", token, "{inv}", inv.ID, "{key}", key)
	w.log.Reset()
	return w
}

// fuzzProject creates a project with a short consent text: every read of
// a project parses it, and the default text would make each input slower.
func (w *fuzzWorld) fuzzProject(privacy string) *facet.Project {
	text := "Your webcam video is analysed for facial expressions, then deleted."
	p, err := w.app.CreateProject(w.ctx, w.c, NewProject{Name: "Fuzz " + privacy, PrivacyMode: privacy, UseContext: "media-testing", ConsentText: &text})
	w.must(err)
	return p
}

// fuzzJobSeeds are message bodies as the app sends them (their ids stand
// for the world's things) and unreadable ones.
var fuzzJobSeeds = []string{
	`{"recordingId":"{rec}","projectId":"{pr}","analysisId":"{an}"}`,
	`{"recordingId":"{recd}","projectId":"{pd}","analysisId":"{and}"}`,
	`{"recordingId":"{rec}","projectId":"{pd}","analysisId":"{an}"}`,
	`{"recordingId":"{wait}","projectId":"{pr}","analysisId":"{an}"}`,
	`{"scope":"recording","clientId":"{cl}","projectId":"{pr}","recordingId":"{rec}","reason":"recording-removed","trigger":"api"}`,
	`{"scope":"recording","clientId":"{cl}","projectId":"{pd}","recordingId":"{recd}","reason":"privacy-by-design","trigger":"pipeline"}`,
	`{"scope":"recording","clientId":"{cl}","projectId":"{pr}","recordingId":"{wait}","reason":"retention","trigger":"sweep"}`,
	`{"scope":"project","clientId":"{cl}","projectId":"{pr}","reason":"project-removed","trigger":"api"}`,
	`{"scope":"project","clientId":"{cl}","projectId":"{pr}","reason":"project-closed","trigger":"api"}`,
	`{"scope":"client","clientId":"{cl}","reason":"erasure","trigger":"operator"}`,
	`{"scope":"recording","clientId":"cl_000000000000000000000000","projectId":"{pr}","recordingId":"{rec}","reason":"erasure","trigger":"api"}`,
	`{"recordingId":"{REC}","projectId":"{pr}","analysisId":"{an}"}`, `{"recordingId":1}`, `"{\"recordingId\":\"x\"}"`,
	`{"recordingId":"{rec}","recordingId":"{rec}x"}`, `null`, `[]`, ``, "\xff", `{"scope":"client","clientId":"{cl}","reason":"x","trigger":"api"}`,
}

// FuzzRunAnalysis hands RunAnalysis arbitrary message bodies. Unreadable
// ones (not a job, or ids that cannot exist) are PoisonMessage with no
// error; readable ones never are, end in a known outcome, fail only as
// transient (EUnavailable), and are idempotent: a run that ended is not
// run again on redelivery.
func FuzzRunAnalysis(f *testing.F) {
	for _, s := range fuzzJobSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := newFuzzWorld(t)
		body = []byte(w.names.Replace(string(body)))
		var job AnalysisJob
		readable := json.Unmarshal(body, &job) == nil && facet.ValidID(job.RecordingID) && facet.ValidID(job.ProjectID) && facet.ValidID(job.AnalysisID)
		out, err := w.app.RunAnalysis(w.ctx, body)
		fuzzCheckOutcome(t, "RunAnalysis", body, readable, out, err, Analyzed, FailedVideo, AlreadyDone, Ignored)
		if err != nil || (out != Analyzed && out != FailedVideo) {
			return
		}
		calls := w.an.Calls
		out, err = w.app.RunAnalysis(w.ctx, body)
		if err != nil || out != AlreadyDone || w.an.Calls != calls {
			t.Fatalf("RunAnalysis(%s) again: %s, %v, analyser calls %d -> %d; want %s and no new run", body, out, err, calls, w.an.Calls, AlreadyDone)
		}
	})
}

// fuzzCheckOutcome checks what a message handler answered for body.
func fuzzCheckOutcome(t *testing.T, fn string, body []byte, readable bool, out Outcome, err error, known ...Outcome) {
	t.Helper()
	switch {
	case !readable && (out != PoisonMessage || err != nil):
		t.Fatalf("%s(%q) = %q, %v; want %s and no error for an unreadable body", fn, body, out, err, PoisonMessage)
	case readable && err != nil && facet.ErrorCode(err) != facet.EUnavailable:
		t.Fatalf("%s(%s): %v (code %s); over memory stores only a transient error may come back", fn, body, err, facet.ErrorCode(err))
	case readable && err == nil && !slices.Contains(known, out):
		t.Fatalf("%s(%s) = %q, want one of %v", fn, body, out, known)
	}
}

// FuzzDeleteData hands DeleteData arbitrary message bodies. Unreadable ones
// are PoisonMessage with no error. A readable one-recording job is
// Ignored exactly when it names another client's recording; otherwise the
// blob it names is gone afterwards, whatever the metadata said; a removal
// of one's own recording leaves only the tombstone and the audit entry
// behind; and a redelivery changes nothing, the audit included.
func FuzzDeleteData(f *testing.F) {
	for _, s := range fuzzJobSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := newFuzzWorld(t)
		body = []byte(w.names.Replace(string(body)))
		var j DeletionJob
		readable := json.Unmarshal(body, &j) == nil && j.valid()
		var owned, foreign bool
		if readable && j.Scope == ScopeRecording {
			rec, _, err := get[facet.Recording](w.ctx, w.store, facet.CRecordings, j.ProjectID, j.RecordingID)
			owned = err == nil && rec.ClientID == j.ClientID
			foreign = err == nil && rec.ClientID != "" && !owned
		}
		out, err := w.app.DeleteData(w.ctx, body)
		fuzzCheckOutcome(t, "DeleteData", body, readable, out, err, Deleted, Ignored)
		if !readable || err != nil {
			return
		}
		if j.Scope == ScopeRecording && (out == Ignored) != foreign {
			t.Fatalf("DeleteData(%s) = %s; the recording belongs to another client: %v", body, out, foreign)
		}
		if j.Scope == ScopeRecording && !foreign {
			if _, err := w.blobs.Stat(w.ctx, j.ProjectID+"/"+j.RecordingID); facet.ErrorCode(err) != facet.ENotFound {
				t.Fatalf("DeleteData(%s) = %s, but the blob is still there (%v)", body, out, err)
			}
		}
		if owned && removes(j.Reason) {
			for _, d := range w.docsMentioning(j.RecordingID) {
				if !strings.HasSuffix(d, "(removed)") && !strings.HasPrefix(d, facet.CAudit+"/") {
					t.Fatalf("DeleteData(%s) left %s behind", body, d)
				}
			}
		}
		before := w.docsMentioning(j.ClientID) // audit entries included
		if out2, err := w.app.DeleteData(w.ctx, body); err != nil || out2 != out {
			t.Fatalf("DeleteData(%s) again: %s, %v; first %s", body, out2, err, out)
		}
		if after := w.docsMentioning(j.ClientID); !slices.Equal(before, after) {
			t.Fatalf("DeleteData(%s) again changed the documents:\n%v\n%v", body, before, after)
		}
	})
}

// fuzzKeyStore records the reads of the invitations and API keys
// containers, by container.
type fuzzKeyStore struct {
	facet.DocStore
	mu    sync.Mutex
	reads map[string][][2]string // container: {partition, id}
}

func (s *fuzzKeyStore) Read(ctx context.Context, container, pk, id string) (facet.Doc, error) {
	if container == facet.CInvitations || container == facet.CAPIKeys {
		s.mu.Lock()
		s.reads[container] = append(s.reads[container], [2]string{pk, id})
		s.mu.Unlock()
	}
	return s.DocStore.Read(ctx, container, pk, id)
}

var (
	fuzzTokenShape = regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)
	fuzzHashShape  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// FuzzTokens tries arbitrary strings as an invitation token (the
// participant's link), an invitation id (a client's revoke) and an API
// key. Only the real one of each opens anything; every other string is
// not found (or unauthorised), never another error; and the store is only
// ever asked for the hash of a well-formed secret, by the hash's own
// partition.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{"{token}", "{inv}", "{key}", "{token}x", " {token}", "{TOKEN}", strings.Repeat("A", 32), strings.Repeat("a", 64),
		strings.Repeat("a", 61) + "%23bc", "fk_", "fk_" + strings.Repeat("x", 97), "../{token}", "{inv}\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := newFuzzWorld(t)
		spy := &fuzzKeyStore{DocStore: w.store, reads: map[string][][2]string{}}
		w.app.Store = spy
		s = w.names.Replace(s)
		no := false
		_, errInv := w.app.Invitation(w.ctx, s)
		_, errConsent := w.app.Consent(w.ctx, s, ConsentInput{Accept: &no, ConsentVersion: DefaultConsentVersion})
		_, errRevoke := w.app.RevokeInvitation(w.ctx, w.c, s)
		_, errAuth := w.app.Authenticate(w.ctx, s)
		want := func(name string, err error, real string, ok, refused string) {
			switch code := facet.ErrorCode(err); {
			case s == real && code != ok:
				t.Fatalf("%s(the real one): %v, want %q", name, err, ok)
			case s != real && code != refused:
				t.Fatalf("%s(%q): %v (%s), want %s", name, s, err, code, refused)
			}
		}
		want("Invitation", errInv, w.token, "", facet.ENotFound)
		want("Consent", errConsent, w.token, facet.EUnprocessable, facet.ENotFound)
		want("RevokeInvitation", errRevoke, w.invitation, "", facet.ENotFound)
		want("Authenticate", errAuth, w.key, "", facet.EUnauthorized)
		fuzzCheckReads(t, s, spy.reads)
	})
}

// fuzzCheckReads checks that secret s reached the store only as a hash,
// by its own partition, and only when it had the shape of a secret.
func fuzzCheckReads(t *testing.T, s string, reads map[string][][2]string) {
	t.Helper()
	for container, rs := range reads {
		for _, r := range rs {
			if !fuzzHashShape.MatchString(r[1]) || r[0] != r[1] {
				t.Fatalf("%q: the store was asked for %s %q in partition %q", s, container, r[1], r[0])
			}
		}
	}
	if len(reads[facet.CInvitations]) > 0 && !fuzzTokenShape.MatchString(s) && !fuzzHashShape.MatchString(s) {
		t.Fatalf("%q reached the invitations without the shape of a token or an invitation id", s)
	}
	if len(reads[facet.CAPIKeys]) > 0 && (!strings.HasPrefix(s, "fk_") || len(s) > 100) {
		t.Fatalf("%q reached the API keys without the shape of a key", s)
	}
}
