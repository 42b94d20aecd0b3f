package app

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/humaninsight/facet"
)

// DefaultConsentVersion names DefaultConsentText; a new text gets a new
// version, so consent given to this one stays attributable.
const DefaultConsentVersion = "facet-default-1"

// DefaultConsentText is shown to participants unless a project replaces it.
// It says what is analysed, what is kept, when the video is deleted, and
// who the controller is (EU AI Act Art. 50(3); GDPR Art. 13).
const DefaultConsentText = `You are invited to record a short video of your face with your webcam for a research study run by the organisation that sent you this link (the data controller).

What happens: software analyses the recording for facial expressions (such as happy, sad, surprised), frame by frame, and estimates your age and gender. No person watches it for this purpose. This is emotion recognition as defined by the EU AI Act.

What is kept: only anonymous figures (expression scores over time, an age estimate, a gender estimate) under a random recording number. No image, no face, no name and no e-mail address is kept by the analysis.

Deletion: the video itself is deleted when the study's privacy settings say so, at the latest when the study closes or after its retention period; you can ask the organisation that invited you to delete it sooner.

Taking part is voluntary. You can refuse now without any consequence, and you can withdraw later by contacting the organisation that invited you.`

// MaxRetentionDays is the longest retention a project may ask for. The
// storage lifecycle rule (infra, uploadsRetentionBackstopDays) deletes
// anything older as a backstop, so no project may be promised more.
const MaxRetentionDays = 365

// SettingsPatch changes some settings; nil fields stay as they are.
type SettingsPatch struct {
	SampleFPS        *float64          `json:"sampleFps"`
	Models           *string           `json:"models"`
	MaxDurationS     *int              `json:"maxDurationS"`
	MaxUploadBytes   *int64            `json:"maxUploadBytes"`
	DeletionGraceS   *int              `json:"deletionGraceS"`
	MaxRetentionDays *int              `json:"maxRetentionDays"`
	SmoothS          *float64          `json:"smoothS"`
	Detect           *facet.DetectMode `json:"detect"`
}

// NewProject is a client's request to create a project.
type NewProject struct {
	Name        string         `json:"name"`
	PrivacyMode string         `json:"privacyMode"`
	UseContext  string         `json:"useContext"`
	Settings    *SettingsPatch `json:"settings"`
	ConsentText *string        `json:"consentText"`
}

// ProjectPatch changes an open project; nil fields stay as they are.
type ProjectPatch struct {
	Name        *string        `json:"name"`
	Settings    *SettingsPatch `json:"settings"`
	ConsentText *string        `json:"consentText"`
	// Design makes the project a stimulus study; an empty stimuli list
	// makes it a plain recording study again.
	Design *facet.StudyDesign `json:"design"`
}

// apply returns s with the patch applied and checked.
func (a *App) apply(s facet.ProjectSettings, p *SettingsPatch) (facet.ProjectSettings, error) {
	if p == nil {
		return s, nil
	}
	if p.SampleFPS != nil {
		s.SampleFPS = *p.SampleFPS
	}
	if p.Models != nil {
		s.Models = *p.Models
	}
	if p.MaxDurationS != nil {
		s.MaxDurationS = *p.MaxDurationS
	}
	if p.MaxUploadBytes != nil {
		s.MaxUploadBytes = *p.MaxUploadBytes
	}
	if p.DeletionGraceS != nil {
		s.DeletionGraceS = *p.DeletionGraceS
	}
	if p.MaxRetentionDays != nil {
		s.MaxRetentionDays = *p.MaxRetentionDays
	}
	if p.SmoothS != nil {
		v := *p.SmoothS
		s.SmoothS = &v
	}
	if p.Detect != nil {
		s.Detect = *p.Detect
	}
	switch {
	case s.SampleFPS < 0 || s.SampleFPS > 30:
		return s, facet.Errorf(facet.EInvalid, "settings.sampleFps: 0 (every frame) to 30")
	case s.MaxDurationS < 1 || s.MaxDurationS > 4*3600:
		return s, facet.Errorf(facet.EInvalid, "settings.maxDurationS: 1 to 14400")
	case s.MaxUploadBytes < 1<<20 || s.MaxUploadBytes > 10<<30:
		return s, facet.Errorf(facet.EInvalid, "settings.maxUploadBytes: 1 MiB to 10 GiB")
	case s.DeletionGraceS < 0 || s.DeletionGraceS > 30*86400:
		return s, facet.Errorf(facet.EInvalid, "settings.deletionGraceS: 0 to 2592000 (30 days)")
	case s.Smooth() < 0 || s.Smooth() > facet.MaxSmoothS:
		return s, facet.Errorf(facet.EInvalid, "settings.smoothS: 0 (raw scores) to %g seconds", facet.MaxSmoothS)
	case !s.Detect.Valid():
		return s, facet.Errorf(facet.EInvalid, "settings.detect: %s or %s", facet.DetectEveryFrame, facet.DetectTrack)
	case s.MaxRetentionDays < 1 || s.MaxRetentionDays > MaxRetentionDays:
		return s, facet.Errorf(facet.EInvalid, "settings.maxRetentionDays: 1 to %d", MaxRetentionDays)
	case s.Models == "" || strings.ContainsAny(s.Models, "/\\.") || len(s.Models) > 40:
		return s, facet.Errorf(facet.EInvalid, "settings.models: a model set name such as default or fast")
	}
	if a.Analyzer != nil {
		if err := a.Analyzer.Installed(s.Models); err != nil {
			return s, facet.Errorf(facet.EUnprocessable, "settings.models: model set %q is not installed", s.Models)
		}
	}
	return s, nil
}

func consentText(text string) (facet.ConsentText, error) {
	t := strings.TrimSpace(text)
	if n := utf8.RuneCountInString(t); n < 50 || n > 20000 || !utf8.ValidString(t) {
		return facet.ConsentText{}, facet.Errorf(facet.EInvalid, "consentText: 50 to 20000 characters")
	}
	return facet.ConsentText{Text: t, Version: "v-" + hashHex(t)[:16]}, nil
}

func validName(name string) error {
	return facet.CheckText("name", name, 200, true)
}

// CreateProject creates an open project of client c.
func (a *App) CreateProject(ctx context.Context, c *facet.Client, n NewProject) (*facet.Project, error) {
	if err := validName(n.Name); err != nil {
		return nil, err
	}
	if n.PrivacyMode != facet.PrivacyRetain && n.PrivacyMode != facet.PrivacyDeleteAfterAnalysis {
		return nil, facet.Errorf(facet.EInvalid, "privacyMode: retain or delete-after-analysis")
	}
	switch {
	case slices.Contains(facet.ProhibitedUseContexts, n.UseContext):
		return nil, facet.Errorf(facet.EUnprocessable, "useContext: emotion recognition in the %s context is prohibited by the EU AI Act (Art. 5(1)(f))", n.UseContext)
	case !slices.Contains(facet.UseContexts, n.UseContext):
		return nil, facet.Errorf(facet.EInvalid, "useContext: one of %s", strings.Join(facet.UseContexts, ", "))
	}
	s, err := a.apply(facet.DefaultSettings, n.Settings)
	if err != nil {
		return nil, err
	}
	consent := facet.ConsentText{Text: DefaultConsentText, Version: DefaultConsentVersion}
	if n.ConsentText != nil {
		if consent, err = consentText(*n.ConsentText); err != nil {
			return nil, err
		}
	}
	now := a.now()
	p := &facet.Project{
		ID: newID("pr"), ClientID: c.ID, Name: n.Name, Status: facet.ProjectOpen,
		PrivacyMode: n.PrivacyMode, UseContext: n.UseContext, Settings: s, Consent: consent,
		CreatedAt: now, UpdatedAt: now,
	}
	etag, err := create(ctx, a.Store, facet.CProjects, c.ID, p)
	if err != nil {
		return nil, err
	}
	p.ETag = etag
	a.Log.Info("project created", "client", c.ID, "project", p.ID)
	return p, nil
}

// Project returns client c's project id.
func (a *App) Project(ctx context.Context, c *facet.Client, id string) (*facet.Project, error) {
	if !facet.ValidID(id) {
		return nil, notFound("project")
	}
	return a.project(ctx, c.ID, id)
}

func (a *App) project(ctx context.Context, clientID, id string) (*facet.Project, error) {
	p, etag, err := get[facet.Project](ctx, a.Store, facet.CProjects, clientID, id)
	if err != nil {
		return nil, asNotFound(err, "project")
	}
	p.ETag = etag
	return p, nil
}

// Projects lists client c's projects, newest first.
func (a *App) Projects(ctx context.Context, c *facet.Client, limit int, cont string) ([]facet.Project, string, error) {
	return query[facet.Project](ctx, a.Store, facet.CProjects, facet.Query{
		Partition: c.ID, OrderBy: "createdAt", Desc: true, Limit: limit, Continuation: cont,
	})
}

// PatchProject changes an open project.
func (a *App) PatchProject(ctx context.Context, c *facet.Client, id string, patch ProjectPatch) (*facet.Project, error) {
	p, err := a.Project(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if p.Status != facet.ProjectOpen {
		return nil, facet.Errorf(facet.EConflict, "project is %s: only an open project can be changed", p.Status)
	}
	if patch.Name != nil {
		if err := validName(*patch.Name); err != nil {
			return nil, err
		}
		p.Name = *patch.Name
	}
	if p.Settings, err = a.apply(p.Settings, patch.Settings); err != nil {
		return nil, err
	}
	if patch.ConsentText != nil {
		if p.Consent, err = consentText(*patch.ConsentText); err != nil {
			return nil, err
		}
	}
	if patch.Design != nil {
		if p.Design, err = a.design(ctx, c, p.ID, *patch.Design); err != nil {
			return nil, err
		}
	}
	p.UpdatedAt = a.now()
	etag, err := replace(ctx, a.Store, facet.CProjects, c.ID, p, p.ETag)
	if isCode(err, facet.EConflict) {
		return nil, facet.Errorf(facet.EConflict, "project changed meanwhile: read it again and retry")
	}
	if err != nil {
		return nil, err
	}
	p.ETag = etag
	return p, nil
}

// RecordingCounts counts a project's recordings by status (removed ones
// are not counted), for the portal's project list.
func (a *App) RecordingCounts(ctx context.Context, projectID string) (map[facet.RecordingStatus]int, error) {
	n := map[facet.RecordingStatus]int{}
	for _, s := range []facet.RecordingStatus{facet.RecAwaitingUpload, facet.RecUploaded, facet.RecAnalyzing, facet.RecAnalyzed, facet.RecFailed, facet.RecExpired} {
		n[s] = 0
	}
	cont := ""
	for {
		recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Partition: projectID, Limit: 500, Continuation: cont})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if _, ok := n[r.Status]; ok {
				n[r.Status]++
			}
		}
		if cont = next; cont == "" {
			return n, nil
		}
	}
}
