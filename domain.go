package facet

import (
	"regexp"
	"time"
)

// ProjectStatus says whether a project takes uploads.
type ProjectStatus string

// Project statuses.
const (
	ProjectOpen   ProjectStatus = "open"
	ProjectClosed ProjectStatus = "closed"
)

// Privacy modes: keep the video until the project closes, or delete it as
// soon as its analysis has ended (privacy by design).
const (
	PrivacyRetain              = "retain"
	PrivacyDeleteAfterAnalysis = "delete-after-analysis"
)

// UseContexts a project may declare. Emotion recognition at the workplace
// and in education is prohibited by the EU AI Act (Art. 5(1)(f)); those
// two are known so that they can be refused by name.
var (
	UseContexts           = []string{"market-research", "media-testing", "usability", "academic-research", "healthcare-research", "other"}
	ProhibitedUseContexts = []string{"workplace", "education"}
)

// RecordingStatus is where a recording is in its life.
type RecordingStatus string

// Recording statuses.
const (
	RecAwaitingUpload RecordingStatus = "awaiting-upload"
	RecUploaded       RecordingStatus = "uploaded"
	RecAnalyzing      RecordingStatus = "analyzing"
	RecAnalyzed       RecordingStatus = "analyzed"
	RecFailed         RecordingStatus = "failed"
	RecExpired        RecordingStatus = "expired"
	// RecRemoved marks a tombstone: a removed recording's only trace.
	RecRemoved RecordingStatus = "removed"
)

// RunStatus is where an analysis run is.
type RunStatus string

// Analysis run statuses.
const (
	RunQueued  RunStatus = "queued"
	RunRunning RunStatus = "running"
	RunDone    RunStatus = "done"
	RunFailed  RunStatus = "failed"
)

// InvitationStatus says whether an invitation can still be used.
type InvitationStatus string

// Invitation statuses.
const (
	InvOpen    InvitationStatus = "open"
	InvUsed    InvitationStatus = "used"
	InvRevoked InvitationStatus = "revoked"
	// InvExpired is never stored: an open invitation past its expiresAt
	// is shown so.
	InvExpired InvitationStatus = "expired"
)

// Deletion reasons: one enum for queue messages, audit entries and
// Recording.Video.DeletionReason.
const (
	ReasonPrivacyByDesign  = "privacy-by-design"
	ReasonProjectClosed    = "project-closed"
	ReasonRecordingRemoved = "recording-removed"
	ReasonProjectRemoved   = "project-removed"
	ReasonErasure          = "erasure"
	ReasonRetention        = "retention"
	ReasonRefusedUpload    = "refused-upload"
	// ReasonOrphan: a blob with no recording. No message carries it: only
	// the sweep deletes orphans.
	ReasonOrphan = "orphan"
	// ReasonStimulusRemoved: the client deleted a stimulus. Stimuli are
	// deleted at once, not through the queue, so no message carries it;
	// with their project they go for the project's reason.
	ReasonStimulusRemoved = "stimulus-removed"
)

// Client is a research company: the data controller.
type Client struct {
	ID           string       `json:"id"`
	Company      string       `json:"company"`
	Contact      Contact      `json:"contact"`
	Demographics Demographics `json:"demographics"`
	DPA          DPA          `json:"dpa"`
	Keys         []KeyInfo    `json:"keys"` // its API keys (hashes, never keys)
	CreatedAt    time.Time    `json:"createdAt"`
	Usage        ClientUsage  `json:"usage"`
	ETag         string       `json:"-"`
}

// ClientUsage counts what a client asked for against its rate limits.
type ClientUsage struct {
	Hour       time.Time `json:"hour"`       // the clock hour counted
	Reanalyses int       `json:"reanalyses"` // re-analyses asked for in that hour
}

// Contact is the client's contact person.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

// Demographics describe the client company (not participants).
type Demographics struct {
	Country string `json:"country"`
	Sector  string `json:"sector,omitempty"`
	Size    string `json:"size,omitempty"`
}

// DPA records the client's acceptance of the data processing agreement.
type DPA struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"acceptedAt"`
}

// APIKey maps a key's hash to its client; the key itself is never stored.
type APIKey struct {
	ID        string    `json:"id"` // sha256 hex of the key
	ClientID  string    `json:"clientId"`
	CreatedAt time.Time `json:"createdAt"`
}

// Project is one study of a client.
type Project struct {
	ID          string          `json:"id"`
	ClientID    string          `json:"clientId"`
	Name        string          `json:"name"`
	Status      ProjectStatus   `json:"status"`
	PrivacyMode string          `json:"privacyMode"`
	UseContext  string          `json:"useContext"`
	Settings    ProjectSettings `json:"settings"`
	Consent     ConsentText     `json:"consent"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	ClosedAt    *time.Time      `json:"closedAt,omitempty"`
	// Design, when set, makes the project a stimulus study.
	Design *StudyDesign `json:"design,omitempty"`
	// Deletion is the pending scheduled deletion of a closed project.
	Deletion *ScheduledDeletion `json:"deletion,omitempty"`
	Usage    ProjectUsage       `json:"usage"`
	ETag     string             `json:"-"`
}

// ProjectUsage counts what a project's client asked for against its limits.
type ProjectUsage struct {
	Day         time.Time `json:"day"`         // the UTC day counted
	Invitations int       `json:"invitations"` // invitations made that day
}

// ProjectSettings shape analyses, uploads and retention.
type ProjectSettings struct {
	SampleFPS        float64 `json:"sampleFps"`        // 0 = every frame
	Models           string  `json:"models"`           // model set
	MaxDurationS     int     `json:"maxDurationS"`     // longest video accepted
	MaxUploadBytes   int64   `json:"maxUploadBytes"`   // largest upload accepted
	DeletionGraceS   int     `json:"deletionGraceS"`   // delay between close and deletion
	MaxRetentionDays int     `json:"maxRetentionDays"` // videos are deleted after this at the latest
	// SmoothS is the emotion smoothing window of the project's analyses
	// (0 = raw per-frame scores); nil, in projects made before it
	// existed, means DefaultSmoothS.
	SmoothS *float64 `json:"smoothS,omitempty"`
	// Detect is how the project's analyses find faces; "" (projects made
	// before the setting existed, and the default) is DetectEveryFrame.
	Detect DetectMode `json:"detect,omitempty"`
}

// Smooth returns the smoothing window the project's analyses use.
func (s ProjectSettings) Smooth() float64 {
	if s.SmoothS == nil {
		return DefaultSmoothS
	}
	return *s.SmoothS
}

// DefaultSettings are a new project's settings where the client gives none.
var DefaultSettings = ProjectSettings{
	SampleFPS:        5,
	Models:           "default",
	MaxDurationS:     1800,
	MaxUploadBytes:   1 << 30,
	DeletionGraceS:   0,
	MaxRetentionDays: 90,
}

// ConsentText is what participants agree to, versioned: a new text gets a
// new version, and consent to an old version no longer counts.
type ConsentText struct {
	Text    string `json:"text"`
	Version string `json:"version"`
}

// ScheduledDeletion is a deletion message waiting in the queue.
type ScheduledDeletion struct {
	SequenceNumber int64     `json:"sequenceNumber"`
	At             time.Time `json:"at"`
}

// Invitation lets one participant consent and upload once.
type Invitation struct {
	ID             string           `json:"id"` // sha256 hex of the token
	ProjectID      string           `json:"projectId"`
	ClientID       string           `json:"clientId"`
	ParticipantRef string           `json:"participantRef,omitempty"`
	Status         InvitationStatus `json:"status"`
	ExpiresAt      time.Time        `json:"expiresAt"`
	CreatedAt      time.Time        `json:"createdAt"`
	UsedAt         *time.Time       `json:"usedAt,omitempty"`
	RecordingID    string           `json:"recordingId,omitempty"`
	// An open link (Quota above 0) lets up to Quota participants through
	// one URL, as panels and survey tools send it: Uses counts them, and
	// it is used when Uses reaches Quota. AllowExt stores the panel's own
	// participant id (?ext=) as each recording's participantRef;
	// CompletionURL is where the page sends the participant when done
	// ({ext} replaced).
	Quota         int    `json:"quota,omitempty"`
	Uses          int    `json:"uses,omitempty"`
	AllowExt      bool   `json:"allowExt,omitempty"`
	CompletionURL string `json:"completionUrl,omitempty"`
	ETag          string `json:"-"`
}

// Recording is one participant's upload slot and what became of it.
type Recording struct {
	ID              string          `json:"id"`
	ProjectID       string          `json:"projectId"`
	ClientID        string          `json:"clientId"`
	Status          RecordingStatus `json:"status"`
	ParticipantRef  string          `json:"participantRef,omitempty"`
	Consent         ConsentRecord   `json:"consent"`
	InvitationID    string          `json:"invitationId,omitempty"`
	Blob            string          `json:"blob"` // name in the uploads container
	UploadExpiresAt time.Time       `json:"uploadExpiresAt"`
	Video           VideoState      `json:"video"`
	Failure         *Failure        `json:"failure,omitempty"`
	LatestAnalysis  string          `json:"latestAnalysis,omitempty"`
	Refusals        int             `json:"refusals,omitempty"` // uploads refused on arrival
	// Sequence is what this participant watches, in the order they see
	// it (BaselineID first when there is a baseline): a stimulus study's.
	Sequence  []string  `json:"sequence,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ETag      string    `json:"-"`
}

// ConsentRecord proves consent: which text (version and hash), when, how.
type ConsentRecord struct {
	Version  string    `json:"version"`
	TextHash string    `json:"textHash"`
	GivenAt  time.Time `json:"givenAt"`
	Method   string    `json:"method"` // participant-page, or the client's own method
	Source   string    `json:"source"` // participant | client
}

// VideoState says whether the original video exists.
type VideoState struct {
	Present        bool       `json:"present"`
	SizeBytes      int64      `json:"sizeBytes,omitempty"`
	ETag           string     `json:"eTag,omitempty"`
	UploadedAt     *time.Time `json:"uploadedAt,omitempty"`
	DeletedAt      *time.Time `json:"deletedAt,omitempty"`
	DeletionReason string     `json:"deletionReason,omitempty"`
}

// Failure is why a recording or an analysis failed.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Analysis is one analysis run of a recording; its per-frame timeline is
// stored in TimelineChunks so no item nears Cosmos DB's 2 MB limit.
type Analysis struct {
	ID          string      `json:"id"`
	Type        string      `json:"type"` // "analysis"
	RecordingID string      `json:"recordingId"`
	ProjectID   string      `json:"projectId"`
	ClientID    string      `json:"clientId"`
	Status      RunStatus   `json:"status"`
	Settings    Settings    `json:"settings"`
	BlobETag    string      `json:"blobETag"`
	CreatedAt   time.Time   `json:"createdAt"`
	StartedAt   *time.Time  `json:"startedAt,omitempty"`
	FinishedAt  *time.Time  `json:"finishedAt,omitempty"`
	Failure     *Failure    `json:"failure,omitempty"`
	Result      *ResultHead `json:"result,omitempty"`
	Chunks      int         `json:"chunks"`
	ETag        string      `json:"-"`
}

// ResultHead is a Result without its frames.
type ResultHead struct {
	Video    VideoInfo  `json:"video"`
	Settings Settings   `json:"settings"`
	Models   []ModelRef `json:"models"`
	Summary  Summary    `json:"summary"`
	Warnings []string   `json:"warnings,omitempty"`
}

// TimelineChunk holds consecutive frames of one analysis run.
type TimelineChunk struct {
	ID          string  `json:"id"`   // <analysis id>.<index>
	Type        string  `json:"type"` // "timeline"
	RecordingID string  `json:"recordingId"`
	AnalysisID  string  `json:"analysisId"`
	Index       int     `json:"index"`
	T0          float64 `json:"t0"`
	Frames      []Frame `json:"frames"`
}

var idPattern = regexp.MustCompile(`^[a-z]{2,4}_[0-9a-f]{24}$`)

// ValidID reports whether s has the shape of an id this service makes.
func ValidID(s string) bool { return idPattern.MatchString(s) }
