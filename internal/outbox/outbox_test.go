package outbox_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/outbox"
	"github.com/humaninsight/facet/internal/porttest"
)

func TestOutboxPort(t *testing.T) {
	porttest.Mailer(t, func(t *testing.T) (facet.Mailer, func() []facet.Mail) {
		dir := filepath.Join(t.TempDir(), "outbox") // not there yet: Send creates it
		return outbox.New(dir), func() []facet.Mail {
			mails, err := outbox.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			return mails
		}
	})
}

// TestOutboxFile checks one file as a developer or another tool reads it:
// its name, its mode, its camelCase keys, and no temporary file left.
func TestOutboxFile(t *testing.T) {
	dir := t.TempDir()
	before := time.Now()
	m := facet.Mail{To: "dana@research.example", Subject: "Join", Text: "Open https://facet.example/app/signup#tok.", HTML: "<p>Open</p>"}
	if err := outbox.New(dir).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want the one mail", len(entries))
	}
	name := entries[0].Name()
	if !regexp.MustCompile(`^[0-9]{19}-[0-9a-f]{8}\.json$`).MatchString(name) {
		t.Errorf("file name %q, want <unix-nanos>-<8 hex>.json", name)
	}
	info, err := entries[0].Info()
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode %v, want 0600 (it holds a sign-up link)", mode)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	sentAt, err := time.Parse(time.RFC3339Nano, got["sentAt"].(string))
	if err != nil || sentAt.Before(before.Add(-time.Second)) || sentAt.After(time.Now().Add(time.Second)) {
		t.Errorf("sentAt = %v (%v), want the time of sending", got["sentAt"], err)
	}
	delete(got, "sentAt")
	want := map[string]any{"to": m.To, "subject": m.Subject, "text": m.Text, "html": m.HTML}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("file's JSON (-want +got):\n%s", diff)
	}
}

// TestOutboxRead: the order comes from the names, and files that Send
// does not write (a temporary file, notes, another folder) are skipped.
func TestOutboxRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, to, subject string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"to": to, "subject": subject, "text": "x"})
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1767225600000000002-0000000a.json", "dana@research.example", "third")
	write("1767225600000000001-000000ff.json", "eve@research.example", "second")
	write("1767225600000000001-0000000b.json", "Dana@Research.example", "first")
	write(".sending-123.json", "dana@research.example", "half-written")
	write("notes.json", "dana@research.example", "not a mail")
	if err := os.Mkdir(filepath.Join(dir, "1767225600000000009-0000000c.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	mails, err := outbox.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, m.Subject)
	}
	if diff := cmp.Diff([]string{"first", "second", "third"}, subjects); diff != "" {
		t.Errorf("Read's subjects (-want +got):\n%s", diff)
	}

	cases := []struct {
		to, subject, code string
	}{
		{"dana@research.example", "third", ""},
		{"DANA@research.example", "third", ""},
		{"eve@research.example", "second", ""},
		{"nobody@research.example", "", facet.ENotFound},
	}
	for _, c := range cases {
		m, err := outbox.Latest(dir, c.to)
		if facet.ErrorCode(err) != c.code || m.Subject != c.subject {
			t.Errorf("Latest(%s) = %q, %v; want %q, code %q", c.to, m.Subject, err, c.subject, c.code)
		}
	}
}

func TestOutboxMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	if mails, err := outbox.Read(dir); err != nil || len(mails) != 0 {
		t.Errorf("Read of a missing folder = %v, %v; want nothing and no error", mails, err)
	}
	if _, err := outbox.Latest(dir, "dana@research.example"); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Latest in a missing folder = %v, want code %q", err, facet.ENotFound)
	}
}

// TestOutboxUnwritable: a folder that cannot be made is EUnavailable.
func TestOutboxUnwritable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := outbox.New(filepath.Join(blocker, "outbox")).Send(t.Context(), facet.Mail{To: "dana@research.example", Subject: "Hi", Text: "Hi."})
	if facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("Send into a folder under a file = %v, want code %q", err, facet.EUnavailable)
	}
}
