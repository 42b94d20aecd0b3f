package inmem_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/porttest"
)

func TestMailerPort(t *testing.T) {
	porttest.Mailer(t, func(t *testing.T) (facet.Mailer, func() []facet.Mail) {
		k := &inmem.Mailer{}
		return k, k.Sent
	})
}

// TestMailerFailWith: a failing mailer records nothing and says why; the
// log is a copy its reader cannot change.
func TestMailerFailWith(t *testing.T) {
	ctx := t.Context()
	k := &inmem.Mailer{}
	first := facet.Mail{To: "dana@research.example", Subject: "First", Text: "One."}
	if err := k.Send(ctx, first); err != nil {
		t.Fatal(err)
	}
	down := facet.Errorf(facet.EUnavailable, "mail service down")
	k.FailWith(down)
	if err := k.Send(ctx, facet.Mail{To: "dana@research.example", Subject: "Second", Text: "Two."}); err != down {
		t.Errorf("Send while failing = %v, want %v", err, down)
	}
	if err := k.Send(ctx, facet.Mail{To: "dana", Subject: "Bad", Text: "Bad."}); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("Send of a bad address while failing = %v, want code %q (validation first)", err, facet.EInvalid)
	}
	k.FailWith(nil)
	third := facet.Mail{To: "eve@research.example", Subject: "Third", Text: "Three."}
	if err := k.Send(ctx, third); err != nil {
		t.Fatal(err)
	}
	got := k.Sent()
	if diff := cmp.Diff([]facet.Mail{first, third}, got); diff != "" {
		t.Fatalf("Sent (-want +got):\n%s", diff)
	}
	got[0].Subject = "changed"
	if k.Sent()[0].Subject != "First" {
		t.Error("changing Sent's result changed the log")
	}
}
