package porttest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/humaninsight/facet"
)

// Mailer checks that mailers keep the facet.Mailer contract: a mail
// arrives with every field exactly as sent, mails arrive in the order they
// were sent one after another, a mail that facet.Mail.Validate refuses
// (header injection, a bad address, no text) is EInvalid and never sent,
// a cancelled context sends nothing and gives an error wrapping
// context.Canceled, and concurrent sends all arrive.
//
// Each subtest calls newMailer for a fresh mailer and a function that
// returns, oldest first, every mail its destination has received: the
// in-memory log, the outbox folder, what a fake mail service stored.
//
// The subtests run in parallel; Mailer returns once all have ended.
func Mailer(t *testing.T, newMailer func(t *testing.T) (facet.Mailer, func() []facet.Mail)) {
	s := mailSuite{newMailer: newMailer}
	t.Run("Mailer", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T)
		}{
			{"Send", s.send},
			{"Refused", s.refused},
			{"Cancelled", s.cancelled},
			{"Concurrent", s.concurrent},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t)
			})
		}
	})
}

type mailSuite struct {
	newMailer func(t *testing.T) (facet.Mailer, func() []facet.Mail)
}

// mailTestTimeout bounds each subtest's context, so a mailer that hangs
// fails the subtest instead of the whole test binary.
const mailTestTimeout = 20 * time.Second

func (s mailSuite) setup(t *testing.T) (context.Context, facet.Mailer, func() []facet.Mail) {
	ctx, cancel := context.WithTimeout(t.Context(), mailTestTimeout)
	t.Cleanup(cancel)
	m, sent := s.newMailer(t)
	return ctx, m, sent
}

// send sends mails whose bytes an encoding could change (non-ASCII
// letters, CRLF, HTML's special characters, JSON's escapes) and checks
// that they arrive unchanged and in order.
func (s mailSuite) send(t *testing.T) {
	ctx, mailer, sent := s.setup(t)
	want := []facet.Mail{
		{
			To:      "dana.demo+facet@research.example",
			Subject: "Your invitation to Demo Research on facet — bitte bestätigen",
			Text:    "Hello,\r\n\r\nopen https://facet.example/app/signup#tok_abc to join.\r\n\"Quoted\" \\ back\tslash \u2028 ü\n",
			HTML:    `<p>Hello,</p><p><a href="https://facet.example/app/signup#tok_abc">Join</a> &amp; <b>welcome</b> <script>alert(1)</script></p>`,
		},
		{To: "jürgen@example.org", Subject: "Second", Text: "Plain text only."},
		{To: "dana.demo+facet@research.example", Subject: "Third", Text: "Again.", HTML: "<p>Again.</p>"},
	}
	for i, m := range want {
		if err := mailer.Send(ctx, m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if diff := cmp.Diff(want, sent()); diff != "" {
		t.Errorf("mails received (-sent +received):\n%s", diff)
	}
}

// refused sends mails Validate refuses; none may reach the destination.
func (s mailSuite) refused(t *testing.T) {
	ctx, mailer, sent := s.setup(t)
	ok := facet.Mail{To: "dana@research.example", Subject: "Hello", Text: "Hello."}
	for _, c := range []struct {
		name string
		edit func(*facet.Mail)
	}{
		{"header injection in the address", func(m *facet.Mail) { m.To = "dana@research.example\r\nBcc: eve@evil.example" }},
		{"header injection in the subject", func(m *facet.Mail) { m.Subject = "Hello\r\nBcc: eve@evil.example" }},
		{"LF in the subject", func(m *facet.Mail) { m.Subject = "Hello\nX-Spam: no" }},
		{"two addresses", func(m *facet.Mail) { m.To = "dana@research.example, eve@evil.example" }},
		{"display name", func(m *facet.Mail) { m.To = "Dana <dana@research.example>" }},
		{"not an address", func(m *facet.Mail) { m.To = "dana" }},
		{"no recipient", func(m *facet.Mail) { m.To = "" }},
		{"no subject", func(m *facet.Mail) { m.Subject = "" }},
		{"no text", func(m *facet.Mail) { m.Text, m.HTML = "", "<p>HTML only</p>" }},
	} {
		m := ok
		c.edit(&m)
		if err := mailer.Send(ctx, m); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("Send with %s = %v, want code %q", c.name, err, facet.EInvalid)
		}
	}
	if got := sent(); len(got) != 0 {
		t.Errorf("%d refused mails were received: %+v", len(got), got)
	}
}

func (s mailSuite) cancelled(t *testing.T) {
	ctx, mailer, sent := s.setup(t)
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	err := mailer.Send(ctx, facet.Mail{To: "dana@research.example", Subject: "Hello", Text: "Hello."})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}
	if got := sent(); len(got) != 0 {
		t.Errorf("a mail sent with a cancelled context was received: %+v", got)
	}
}

func (s mailSuite) concurrent(t *testing.T) {
	ctx, mailer, sent := s.setup(t)
	const n = 16
	var want []string
	var wg sync.WaitGroup
	for i := range n {
		subject := fmt.Sprintf("Mail %02d", i)
		want = append(want, subject)
		wg.Go(func() {
			m := facet.Mail{To: fmt.Sprintf("member%02d@research.example", i), Subject: subject, Text: "Hello " + subject}
			if err := mailer.Send(ctx, m); err != nil {
				t.Errorf("concurrent Send %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var got []string
	for _, m := range sent() {
		if m.Text != "Hello "+m.Subject {
			t.Errorf("mail %q arrived with text %q: mails mixed up", m.Subject, m.Text)
		}
		got = append(got, m.Subject)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subjects received (-sent +received):\n%s", diff)
	}
}
