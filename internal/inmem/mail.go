package inmem

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/humaninsight/facet"
)

// Mailer is a facet.Mailer that keeps mails in memory instead of sending
// them: app tests read the links they carry with Sent. It refuses what
// facet.Mail.Validate refuses, as every mailer does.
//
// The zero value is ready to use. Safe for concurrent use.
type Mailer struct {
	mu   sync.Mutex
	sent []facet.Mail
	err  error
}

var _ facet.Mailer = (*Mailer)(nil)

// Send records m.
func (k *Mailer) Send(ctx context.Context, m facet.Mail) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("inmem: send mail: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	k.sent = append(k.sent, m)
	return nil
}

// Sent returns the mails sent so far, oldest first.
func (k *Mailer) Sent() []facet.Mail {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.sent)
}

// FailWith makes every later Send that passes validation return err
// without recording the mail, so that a test can show what a use case
// does when the mail service is down (a facet.EUnavailable error, say);
// nil sends again.
func (k *Mailer) FailWith(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.err = err
}
