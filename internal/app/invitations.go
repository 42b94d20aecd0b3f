package app

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// refPattern admits pseudonymous codes only: no spaces and no "@", so a
// name or an e-mail address cannot be stored as a participant reference.
var (
	refPattern   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)
	// invitationIDPattern is an invitation's id: the sha256 hex of its token.
	invitationIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func validRef(ref string) error {
	if ref != "" && !refPattern.MatchString(ref) {
		return facet.Errorf(facet.EInvalid, "participantRef: a pseudonymous code of 1 to 64 letters, digits and . _ : - (no names or e-mail addresses)")
	}
	return nil
}

// NewInvitation is a client's request for an invitation link.
type NewInvitation struct {
	ParticipantRef string `json:"participantRef"`
	ExpiresInS     *int   `json:"expiresInS"`
	// Quota makes an open link: up to Quota participants (2 to
	// MaxQuota) through one URL. AllowExt and CompletionURL are for open
	// links and panels (see facet.Invitation).
	Quota         *int   `json:"quota"`
	AllowExt      bool   `json:"allowExt"`
	CompletionURL string `json:"completionUrl"`
}

// MaxQuota bounds an open link's participants.
const MaxQuota = 100000

// checkOpenLink checks the open-link fields of an invitation request.
func checkOpenLink(n NewInvitation) error {
	if n.Quota != nil && (*n.Quota < 2 || *n.Quota > MaxQuota) {
		return facet.Errorf(facet.EInvalid, "quota: 2 to %d participants", MaxQuota)
	}
	if (n.AllowExt || n.CompletionURL != "") && n.Quota == nil && n.ParticipantRef != "" {
		return facet.Errorf(facet.EInvalid, "allowExt: a personal invitation already has its participantRef")
	}
	if n.CompletionURL == "" {
		return nil
	}
	u, err := url.Parse(n.CompletionURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(n.CompletionURL) > 2048 || u.Fragment != "" {
		return facet.Errorf(facet.EInvalid, "completionUrl: an absolute https URL without credentials or fragment, at most 2048 characters")
	}
	return nil
}

// completionURL is inv's completion URL for a participant with ext.
func completionURL(inv *facet.Invitation, ext string) string {
	if inv.CompletionURL == "" {
		return ""
	}
	return strings.ReplaceAll(inv.CompletionURL, "{ext}", url.QueryEscape(ext))
}

// CreateInvitation makes a one-time invitation to project projectID and
// returns it with its token, which only the link holds (the store keeps a
// hash).
func (a *App) CreateInvitation(ctx context.Context, c *facet.Client, projectID string, n NewInvitation) (*facet.Invitation, string, error) {
	p, err := a.Project(ctx, c, projectID)
	if err != nil {
		return nil, "", err
	}
	if p.Status != facet.ProjectOpen {
		return nil, "", facet.Errorf(facet.EConflict, "project is closed")
	}
	if err := validRef(n.ParticipantRef); err != nil {
		return nil, "", err
	}
	if err := checkOpenLink(n); err != nil {
		return nil, "", err
	}
	if err := a.takeInvitation(ctx, c, p); err != nil {
		return nil, "", err
	}
	ttl := a.cfg.InvitationTTL
	if n.ExpiresInS != nil {
		if *n.ExpiresInS < 60 || *n.ExpiresInS > 90*86400 {
			return nil, "", facet.Errorf(facet.EInvalid, "expiresInS: 60 to 7776000 (90 days)")
		}
		ttl = time.Duration(*n.ExpiresInS) * time.Second
	}
	token := newSecret("", 24)
	now := a.now()
	inv := &facet.Invitation{
		ID: hashHex(token), ProjectID: p.ID, ClientID: c.ID, ParticipantRef: n.ParticipantRef,
		Status: facet.InvOpen, ExpiresAt: now.Add(ttl), CreatedAt: now, AllowExt: n.AllowExt, CompletionURL: n.CompletionURL,
	}
	if n.Quota != nil {
		inv.Quota = *n.Quota
	}
	if _, err := create(ctx, a.Store, facet.CInvitations, inv.ID, inv); err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// InvitationURL is the participant's link for token.
func (a *App) InvitationURL(token string) string {
	return strings.TrimRight(a.cfg.PublicBaseURL, "/") + "/p/" + token
}

// Invitations lists the invitations of client c's project, newest first.
func (a *App) Invitations(ctx context.Context, c *facet.Client, projectID string, limit int, cont string) ([]facet.Invitation, string, error) {
	if _, err := a.Project(ctx, c, projectID); err != nil {
		return nil, "", err
	}
	invs, next, err := query[facet.Invitation](ctx, a.Store, facet.CInvitations, facet.Query{
		Where: map[string]any{"clientId": c.ID, "projectId": projectID}, OrderBy: "createdAt", Desc: true, Limit: limit, Continuation: cont,
	})
	now := a.now()
	for i := range invs {
		if invs[i].Status == facet.InvOpen && !now.Before(invs[i].ExpiresAt) {
			invs[i].Status = facet.InvExpired // what the participant's link would answer (410)
		}
	}
	return invs, next, err
}

// RevokeInvitation makes an unused invitation unusable.
func (a *App) RevokeInvitation(ctx context.Context, c *facet.Client, id string) (*facet.Invitation, error) {
	if !invitationIDPattern.MatchString(id) { // the sha256 hex of a token
		return nil, notFound("invitation")
	}
	inv, etag, err := get[facet.Invitation](ctx, a.Store, facet.CInvitations, id, id)
	if err != nil || inv.ClientID != c.ID {
		return nil, asNotFound(firstErr(err, notFound("invitation")), "invitation")
	}
	switch inv.Status {
	case facet.InvRevoked:
		return inv, nil
	case facet.InvUsed:
		return nil, facet.Errorf(facet.EConflict, "invitation already used")
	}
	inv.Status = facet.InvRevoked
	if _, err := replace(ctx, a.Store, facet.CInvitations, id, inv, etag); err != nil {
		if isCode(err, facet.EConflict) {
			return nil, facet.Errorf(facet.EConflict, "invitation changed meanwhile: retry")
		}
		return nil, err
	}
	return inv, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// PublicInvitation is what a participant sees before consenting, and
// the limits the recording page keeps to.
type PublicInvitation struct {
	ProjectName    string    `json:"projectName"`
	ConsentText    string    `json:"consentText"`
	ConsentVersion string    `json:"consentVersion"`
	ExpiresAt      time.Time `json:"expiresAt"`
	// PrivacyMode and RetentionDays say when the video is deleted:
	// right after analysis, or when the study closes and at the latest
	// RetentionDays after upload.
	PrivacyMode    string `json:"privacyMode"`
	RetentionDays  int    `json:"retentionDays"`
	MaxDurationS   int    `json:"maxDurationS"`
	MaxUploadBytes int64  `json:"maxUploadBytes"`
}

// openInvitation returns the usable invitation of token and its project.
func (a *App) openInvitation(ctx context.Context, token string) (*facet.Invitation, string, *facet.Project, error) {
	if !tokenPattern.MatchString(token) {
		return nil, "", nil, notFound("invitation")
	}
	id := hashHex(token)
	inv, etag, err := get[facet.Invitation](ctx, a.Store, facet.CInvitations, id, id)
	if err != nil {
		return nil, "", nil, asNotFound(err, "invitation")
	}
	switch {
	case inv.Status == facet.InvUsed:
		return nil, "", nil, facet.Errorf(facet.EGone, "this invitation has already been used")
	case inv.Status == facet.InvRevoked:
		return nil, "", nil, facet.Errorf(facet.EGone, "this invitation has been withdrawn")
	case !a.now().Before(inv.ExpiresAt):
		return nil, "", nil, facet.Errorf(facet.EGone, "this invitation has expired")
	}
	p, err := a.project(ctx, inv.ClientID, inv.ProjectID)
	if isCode(err, facet.ENotFound) {
		return nil, "", nil, facet.Errorf(facet.EGone, "this study no longer exists")
	}
	if err != nil {
		return nil, "", nil, err
	}
	if p.Status != facet.ProjectOpen {
		return nil, "", nil, facet.Errorf(facet.EConflict, "this study is closed")
	}
	return inv, etag, p, nil
}

// Invitation returns what the participant of token is asked to agree to.
func (a *App) Invitation(ctx context.Context, token string) (*PublicInvitation, error) {
	inv, _, p, err := a.openInvitation(ctx, token)
	if err != nil {
		return nil, err
	}
	return &PublicInvitation{
		ProjectName: p.Name, ConsentText: p.Consent.Text, ConsentVersion: p.Consent.Version, ExpiresAt: inv.ExpiresAt,
		PrivacyMode: p.PrivacyMode, RetentionDays: p.Settings.MaxRetentionDays,
		MaxDurationS: p.Settings.MaxDurationS, MaxUploadBytes: p.Settings.MaxUploadBytes,
	}, nil
}

// ConsentInput is a participant's answer.
type ConsentInput struct {
	Accept         *bool  `json:"accept"`
	ConsentVersion string `json:"consentVersion"`
	// Ext is a panel's own participant id, from the link's ?ext=: kept
	// as the recording's participantRef when the link allows it, else
	// not stored.
	Ext string `json:"ext,omitempty"`
}

// UploadSlot is where and until when a recording may be uploaded.
type UploadSlot struct {
	RecordingID string            `json:"recordingId"`
	UploadURL   string            `json:"uploadUrl"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	ExpiresAt   time.Time         `json:"expiresAt"`
	// Sequence and ViewingLogURL are a stimulus study's: what the
	// participant watches, in order, and the create-only link the page
	// PUTs its viewing log to (JSON, before the video).
	Sequence      []string `json:"sequence,omitempty"`
	ViewingLogURL string   `json:"viewingLogUrl,omitempty"`
	// Stimuli are the sequence's stimuli (not the baseline), each with a
	// read link for this participant only, valid as long as the upload
	// link: the page plays them from there.
	Stimuli   []StimulusLink `json:"stimuli,omitempty"`
	BaselineS float64        `json:"baselineS,omitempty"`
	// CompletionURL is where the page sends the participant once the
	// upload is done (an open link's, {ext} filled in).
	CompletionURL string `json:"completionUrl,omitempty"`
}

// StimulusLink is a stimulus as the participant page plays it.
type StimulusLink struct {
	ID          string             `json:"id"`
	Kind        facet.StimulusKind `json:"kind"`
	URL         string             `json:"url"`
	ContentType string             `json:"contentType"`
	DisplayS    float64            `json:"displayS,omitempty"`
	DurationS   float64            `json:"durationS,omitempty"`
}

// Consent records the participant's consent and opens their upload slot.
// The invitation is then used: a second consent answers 410.
func (a *App) Consent(ctx context.Context, token string, in ConsentInput) (*UploadSlot, error) {
	if in.Accept == nil {
		return nil, facet.Errorf(facet.EInvalid, "accept: required")
	}
	inv, etag, p, err := a.openInvitation(ctx, token)
	if err != nil {
		return nil, err
	}
	if !*in.Accept {
		return nil, facet.Errorf(facet.EUnprocessable, "consent not given: nothing is recorded")
	}
	if in.ConsentVersion != p.Consent.Version {
		return nil, facet.Errorf(facet.EUnprocessable, "consentVersion %q is not the current text's version: reload the page", in.ConsentVersion)
	}
	if err := a.checkSlots(ctx, p.ClientID); err != nil {
		return nil, err
	}
	ref := inv.ParticipantRef
	if inv.AllowExt && in.Ext != "" {
		if err := validRef(in.Ext); err != nil {
			return nil, facet.Errorf(facet.EInvalid, "ext: a pseudonymous code of 1 to 64 letters, digits and . _ : - (no names or e-mail addresses)")
		}
		ref = in.Ext
	}
	rec := a.newRecording(p, ref, facet.ConsentRecord{
		Version: p.Consent.Version, TextHash: hashHex(p.Consent.Text), GivenAt: a.now(),
		Method: "participant-page", Source: "participant",
	})
	if inv.Quota > 0 {
		return a.consentOpenLink(ctx, inv, etag, rec, ref)
	}
	rec.InvitationID = inv.ID
	if _, err := create(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec); err != nil {
		return nil, err
	}
	now := a.now()
	inv.Status, inv.UsedAt, inv.RecordingID = facet.InvUsed, &now, rec.ID
	if _, err := replace(ctx, a.Store, facet.CInvitations, inv.ID, inv, etag); err != nil {
		// Another consent through the same link won the race: ours goes.
		a.Store.Delete(ctx, facet.CRecordings, rec.ProjectID, rec.ID, "")
		if isCode(err, facet.EConflict) {
			return nil, facet.Errorf(facet.EGone, "this invitation has already been used")
		}
		return nil, err
	}
	a.Log.Info("consent given", "project", p.ID, "recording", rec.ID)
	slot, err := a.uploadSlot(ctx, rec)
	if slot != nil {
		slot.CompletionURL = completionURL(inv, ref)
	}
	return slot, err
}

// consentOpenLink counts a participant of an open link, then opens their
// slot. The count goes first, under the link's ETag, so that a quota is
// never exceeded however many arrive at once; a conflict reads again.
func (a *App) consentOpenLink(ctx context.Context, inv *facet.Invitation, etag string, rec *facet.Recording, ext string) (*UploadSlot, error) {
	for try := 0; ; try++ {
		if inv.Uses >= inv.Quota || inv.Status != facet.InvOpen {
			return nil, facet.Errorf(facet.EGone, "this study has all the participants it needs")
		}
		inv.Uses++
		if inv.Uses >= inv.Quota {
			now := a.now()
			inv.Status, inv.UsedAt = facet.InvUsed, &now
		}
		_, err := replace(ctx, a.Store, facet.CInvitations, inv.ID, inv, etag)
		if err == nil {
			break
		}
		if !isCode(err, facet.EConflict) || try >= 20 {
			return nil, err
		}
		if inv, etag, err = a.rereadInvitation(ctx, inv.ID); err != nil {
			return nil, err
		}
	}
	if _, err := create(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec); err != nil {
		return nil, err // the count stays: a quota errs on the safe side
	}
	a.Log.Info("consent given through an open link", "project", rec.ProjectID, "recording", rec.ID, "uses", inv.Uses)
	slot, err := a.uploadSlot(ctx, rec)
	if slot != nil {
		slot.CompletionURL = completionURL(inv, ext)
	}
	return slot, err
}

func (a *App) rereadInvitation(ctx context.Context, id string) (*facet.Invitation, string, error) {
	inv, etag, err := get[facet.Invitation](ctx, a.Store, facet.CInvitations, id, id)
	return inv, etag, asNotFound(err, "invitation")
}

// newRecording makes an upload slot's record.
func (a *App) newRecording(p *facet.Project, ref string, consent facet.ConsentRecord) *facet.Recording {
	now := a.now()
	id := newID("rec")
	return &facet.Recording{
		ID: id, ProjectID: p.ID, ClientID: p.ClientID, Status: facet.RecAwaitingUpload,
		ParticipantRef: ref, Consent: consent, Blob: p.ID + "/" + id, Sequence: sequence(p.Design),
		UploadExpiresAt: now.Add(a.cfg.UploadTTL), CreatedAt: now, UpdatedAt: now,
	}
}

func (a *App) uploadSlot(ctx context.Context, rec *facet.Recording) (*UploadSlot, error) {
	url, err := a.Blobs.SignedURL(ctx, rec.Blob, facet.SASCreate, rec.UploadExpiresAt)
	if err != nil {
		return nil, err
	}
	slot := &UploadSlot{
		RecordingID: rec.ID, UploadURL: url, Method: "PUT",
		Headers: map[string]string{"x-ms-blob-type": "BlockBlob"}, ExpiresAt: rec.UploadExpiresAt,
	}
	if len(rec.Sequence) > 0 {
		slot.Sequence = rec.Sequence
		if slot.ViewingLogURL, err = a.Blobs.SignedURL(ctx, rec.Blob+facet.ViewingLogSuffix, facet.SASCreate, rec.UploadExpiresAt); err != nil {
			return nil, err
		}
		if slot.Stimuli, slot.BaselineS, err = a.stimulusLinks(ctx, rec); err != nil {
			return nil, err
		}
	}
	return slot, nil
}

// stimulusLinks signs a read link for each stimulus of rec's sequence.
// The link forces the probed content type and no download (a stimulus is
// watched, not saved), and ends when the upload link does.
func (a *App) stimulusLinks(ctx context.Context, rec *facet.Recording) ([]StimulusLink, float64, error) {
	var out []StimulusLink
	var baselineS float64
	if p, err := a.project(ctx, rec.ClientID, rec.ProjectID); err == nil && p.Design != nil {
		baselineS = p.Design.BaselineS
	}
	for _, id := range rec.Sequence {
		if id == facet.BaselineID {
			continue
		}
		s, _, err := get[facet.Stimulus](ctx, a.Store, facet.CStimuli, rec.ProjectID, id)
		if err != nil {
			return nil, 0, asNotFound(err, "stimulus")
		}
		if s.Status != facet.StimReady || s.Media == nil {
			return nil, 0, facet.Errorf(facet.EConflict, "a stimulus of this study is not ready: the study cannot start")
		}
		url, err := a.Blobs.ReadURL(ctx, facet.StimulusBlob(s.ProjectID, s.ID), rec.UploadExpiresAt,
			facet.ReadHeaders{ContentType: s.Media.ContentType, ContentDisposition: "inline"})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, StimulusLink{ID: s.ID, Kind: s.Kind, URL: url, ContentType: s.Media.ContentType, DisplayS: s.DisplayS, DurationS: s.Media.DurationS})
	}
	return out, baselineS, nil
}
