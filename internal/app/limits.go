package app

import (
	"context"
	"time"

	"github.com/humaninsight/facet"
)

// Limits bound what one client can make the service do, so that no client
// starves the others. Each answers ETooMany with a Retry-After: the work
// can be asked for again later, unlike a refusal on substance.
type Limits struct {
	RunningAnalyses   int // analyses of one client running at once; others wait (fair scheduling)
	ReanalysesPerHour int // re-analyses one client may ask for per clock hour
	InvitationsPerDay int // invitations per project and UTC day
	OpenUploadSlots   int // upload slots of one client waiting for their upload
}

// DefaultLimits are the limits when Config.Limits leaves them zero.
var DefaultLimits = Limits{RunningAnalyses: 2, ReanalysesPerHour: 60, InvitationsPerDay: 5000, OpenUploadSlots: 500}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.RunningAnalyses > 0 {
		d.RunningAnalyses = l.RunningAnalyses
	}
	if l.ReanalysesPerHour > 0 {
		d.ReanalysesPerHour = l.ReanalysesPerHour
	}
	if l.InvitationsPerDay > 0 {
		d.InvitationsPerDay = l.InvitationsPerDay
	}
	if l.OpenUploadSlots > 0 {
		d.OpenUploadSlots = l.OpenUploadSlots
	}
	return d
}

// fairShare lets a run start only while its client has fewer than
// RunningAnalyses runs running: a client with hundreds queued then holds
// only its share of the workers, and the others' runs pass between its
// waiting ones. A run whose lease has passed (its instance died) does not
// count. The check and the claim are not atomic: two deliveries at the
// same instant may both start, which bounds the share all the same.
func (a *App) fairShare(ctx context.Context, an *facet.Analysis) error {
	max := a.cfg.Limits.RunningAnalyses
	runs, _, err := query[facet.Analysis](ctx, a.Store, facet.CAnalyses, facet.Query{
		Where: map[string]any{"clientId": an.ClientID, "type": "analysis", "status": facet.RunRunning}, Limit: 100})
	if err != nil {
		return err
	}
	now, n := a.now(), 0
	for _, r := range runs {
		if r.ID != an.ID && r.StartedAt != nil && now.Sub(*r.StartedAt) < Lease {
			n++
		}
	}
	if n >= max {
		return facet.Throttled(15*time.Second, "%d analyses of this client are running (at most %d at once)", n, max)
	}
	return nil
}

// takeReanalysis counts one re-analysis against the client's hourly
// allowance, kept on the client's document. It starts from c as the
// request read it; a concurrent update (optimistic concurrency) makes it
// read the client again.
func (a *App) takeReanalysis(ctx context.Context, c *facet.Client) error {
	cur := *c
	for try := 0; try < 5; try++ {
		if try > 0 || cur.ETag == "" { // without an ETag a write could undo another
			fresh, err := a.Client(ctx, c.ID)
			if err != nil {
				return err
			}
			cur = *fresh
		}
		now := a.now()
		hour := now.Truncate(time.Hour)
		if !cur.Usage.Hour.Equal(hour) {
			cur.Usage.Hour, cur.Usage.Reanalyses = hour, 0
		}
		if cur.Usage.Reanalyses >= a.cfg.Limits.ReanalysesPerHour {
			return facet.Throttled(hour.Add(time.Hour).Sub(now), "at most %d re-analyses per hour", a.cfg.Limits.ReanalysesPerHour)
		}
		cur.Usage.Reanalyses++
		if _, err := replace(ctx, a.Store, facet.CClients, cur.ID, &cur, cur.ETag); !isCode(err, facet.EConflict) {
			return err
		}
	}
	return facet.Errorf(facet.EConflict, "the client changed meanwhile: retry")
}

// takeInvitation counts one invitation against the project's daily
// allowance, kept on the project's document, starting from p as the
// request read it (a concurrent update makes it read p again).
func (a *App) takeInvitation(ctx context.Context, c *facet.Client, p *facet.Project) error {
	cur := *p
	for try := 0; try < 5; try++ {
		if try > 0 || cur.ETag == "" { // without an ETag a write could undo another
			fresh, err := a.Project(ctx, c, p.ID)
			if err != nil {
				return err
			}
			cur = *fresh
		}
		now := a.now()
		day := now.Truncate(24 * time.Hour)
		if !cur.Usage.Day.Equal(day) {
			cur.Usage.Day, cur.Usage.Invitations = day, 0
		}
		if cur.Usage.Invitations >= a.cfg.Limits.InvitationsPerDay {
			return facet.Throttled(day.Add(24*time.Hour).Sub(now), "at most %d invitations per project and day", a.cfg.Limits.InvitationsPerDay)
		}
		cur.Usage.Invitations++
		if _, err := replace(ctx, a.Store, facet.CProjects, c.ID, &cur, cur.ETag); !isCode(err, facet.EConflict) {
			return err
		}
	}
	return facet.Errorf(facet.EConflict, "the project changed meanwhile: retry")
}

// checkSlots refuses a new upload slot while the client has as many open
// ones as allowed; they free up as uploads arrive or links expire.
func (a *App) checkSlots(ctx context.Context, clientID string) error {
	max := a.cfg.Limits.OpenUploadSlots
	recs, _, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{
		Where: map[string]any{"clientId": clientID, "status": facet.RecAwaitingUpload}, Limit: max + 1})
	if err != nil {
		return err
	}
	var expiries []time.Time
	now := a.now()
	for _, r := range recs {
		if r.UploadExpiresAt.After(now) {
			expiries = append(expiries, r.UploadExpiresAt)
		}
	}
	if len(expiries) < max {
		return nil
	}
	return facet.Throttled(untilFirst(now, expiries), "%d upload slots are open (at most %d): wait until uploads arrive or links expire", len(expiries), max)
}

// untilFirst is the time from now to the earliest of ts, at least a minute.
func untilFirst(now time.Time, ts []time.Time) time.Duration {
	first := ts[0]
	for _, t := range ts[1:] {
		if t.Before(first) {
			first = t
		}
	}
	return max(first.Sub(now), time.Minute)
}
