package app

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humaninsight/facet"
)

// TestOpenLink: one URL for many participants, as panels send it: at
// most quota consents however many arrive at once, the panel's id kept
// as the recording's participantRef when the link allows it, and the
// completion URL with that id filled in (escaped).
func TestOpenLink(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Panel Ltd")
	p := e.project(c, facet.PrivacyRetain)
	five := 5
	inv, token, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{Quota: &five, AllowExt: true,
		CompletionURL: "https://survey.example/done?pid={ext}&s=facet"})
	e.must(err)
	if inv.Quota != 5 {
		t.Fatalf("invitation %+v", inv)
	}
	pub, err := e.app.Invitation(e.ctx, token)
	e.must(err)
	yes := true
	slot, err := e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion, Ext: "PNL-00 7"})
	if facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("an ext with a space: %v", err)
	}
	slot, err = e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion, Ext: "PNL:0042"})
	e.must(err)
	if got := e.recording(p.ID, slot.RecordingID).ParticipantRef; got != "PNL:0042" {
		t.Errorf("participantRef %q, want the panel's id", got)
	}
	if slot.CompletionURL != "https://survey.example/done?pid=PNL%3A0042&s=facet" {
		t.Errorf("completion URL %q", slot.CompletionURL)
	}
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
			switch facet.ErrorCode(err) {
			case "":
				ok.Add(1)
			case facet.EGone:
				gone.Add(1)
			default:
				t.Errorf("consent: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 4 || gone.Load() != 8 {
		t.Errorf("%d consents and %d refusals after the first, want 4 and 8 (quota 5)", ok.Load(), gone.Load())
	}
	if _, err := e.app.Invitation(e.ctx, token); facet.ErrorCode(err) != facet.EGone {
		t.Errorf("a full open link: %v", err)
	}
	// A link that does not allow ext does not store it.
	plain, ptoken, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{Quota: &five})
	e.must(err)
	s2, err := e.app.Consent(e.ctx, ptoken, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion, Ext: "PNL:0043"})
	e.must(err)
	if got := e.recording(p.ID, s2.RecordingID).ParticipantRef; got != "" || s2.CompletionURL != "" || plain.AllowExt {
		t.Errorf("ext stored without allowExt: %q", got)
	}
	for _, n := range []NewInvitation{
		{Quota: func() *int { one := 1; return &one }()},
		{Quota: &five, CompletionURL: "http://survey.example/done"},
		{Quota: &five, CompletionURL: "https://user:pw@survey.example/done"},
	} {
		if _, _, err := e.app.CreateInvitation(e.ctx, c, p.ID, n); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("%+v: %v", n, err)
		}
	}
}
