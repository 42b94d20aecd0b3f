// Package outbox is the facet.Mailer of local development and tests: it
// writes each mail as one JSON file into a folder instead of sending it,
// so that a developer opens the sign-up link from there and a test reads
// it with Latest. Nothing leaves the machine.
package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// Outbox writes mails into one folder, each as <unix-nanos>-<8 hex>.json
// holding {to, subject, text, html, sentAt}. A file appears whole or not
// at all (it is written under a temporary name and renamed), so a reader
// polling the folder never sees half a mail. Files are readable by their
// owner only: they hold sign-up links. Safe for concurrent use, also by
// several processes sharing the folder.
type Outbox struct {
	dir string
}

var _ facet.Mailer = (*Outbox)(nil)

// New returns an Outbox writing into dir, which Send creates (mode 0700)
// when it does not exist yet.
func New(dir string) *Outbox { return &Outbox{dir: dir} }

// Dir returns the folder the mails go to.
func (o *Outbox) Dir() string { return o.dir }

// file is one mail on disk.
type file struct {
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	SentAt  time.Time `json:"sentAt"`
}

// fileName matches the names Send writes; Read takes no other file.
var fileName = regexp.MustCompile(`^([0-9]+)-[0-9a-f]{8}\.json$`)

// Send writes m into the folder. Failing to write is EUnavailable: a full
// or read-only disk may come right.
func (o *Outbox) Send(ctx context.Context, m facet.Mail) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("outbox: send: %w", err)
	}
	now := time.Now().UTC()
	data, err := json.MarshalIndent(file{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, SentAt: now}, "", "  ")
	if err != nil {
		return fmt.Errorf("outbox: send: %w", err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := strconv.FormatInt(now.UnixNano(), 10) + "-" + hex.EncodeToString(suffix) + ".json"
	if err := o.write(name, data); err != nil {
		return facet.Errorf(facet.EUnavailable, "outbox: send: %w", err)
	}
	return nil
}

// write puts data into the folder under name, atomically: a temporary
// file in the same folder, renamed once complete. The temporary name
// starts with a dot and does not match fileName, so Read skips it.
func (o *Outbox) write(name string, data []byte) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(o.dir, ".sending-*.json") // mode 0600
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.dir, name)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Read returns the mails in dir, oldest first (by the time in their
// names). A folder that does not exist holds no mail yet: no error.
// Files other than the ones Send writes are skipped.
func Read(dir string) ([]facet.Mail, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	type named struct {
		nanos int64
		name  string
	}
	var names []named
	for _, e := range entries {
		if sm := fileName.FindStringSubmatch(e.Name()); sm != nil && e.Type().IsRegular() {
			n, err := strconv.ParseInt(sm[1], 10, 64)
			if err == nil {
				names = append(names, named{n, e.Name()})
			}
		}
	}
	slices.SortFunc(names, func(a, b named) int {
		return cmp.Or(cmp.Compare(a.nanos, b.nanos), strings.Compare(a.name, b.name))
	})
	mails := make([]facet.Mail, 0, len(names))
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n.name))
		if err != nil {
			return nil, fmt.Errorf("outbox: read %s: %w", n.name, err)
		}
		var f file
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("outbox: read %s: %w", n.name, err)
		}
		mails = append(mails, facet.Mail{To: f.To, Subject: f.Subject, Text: f.Text, HTML: f.HTML})
	}
	return mails, nil
}

// Latest returns the newest mail in dir to the address to (compared
// without regard to case, as mail providers do), or ENotFound when there
// is none: what a test needs to follow the link of the invitation it has
// just caused.
func Latest(dir, to string) (facet.Mail, error) {
	mails, err := Read(dir)
	if err != nil {
		return facet.Mail{}, err
	}
	for i := len(mails) - 1; i >= 0; i-- {
		if strings.EqualFold(mails[i].To, to) {
			return mails[i], nil
		}
	}
	return facet.Mail{}, facet.Errorf(facet.ENotFound, "outbox: no mail to that address")
}
