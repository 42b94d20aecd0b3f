package facet

import (
	"fmt"
	"strings"
	"time"
)

// CStimuli holds the stimuli of projects: what participants watch (pk
// /projectId). Stimuli are the client's material, not personal data.
const CStimuli = "stimuli"

// StimulusKind is what a stimulus is.
type StimulusKind string

// Stimulus kinds.
const (
	StimVideo StimulusKind = "video"
	StimImage StimulusKind = "image"
)

// StimulusStatus is where a stimulus is in its life.
type StimulusStatus string

// Stimulus statuses: a stimulus waits for the client's upload, is probed
// when it arrives, and is then ready, or refused with a reason (a file
// that no current browser plays, too large, or not of its kind).
const (
	StimAwaitingUpload StimulusStatus = "awaiting-upload"
	StimProcessing     StimulusStatus = "processing"
	StimReady          StimulusStatus = "ready"
	StimRefused        StimulusStatus = "refused"
)

// Stimulus limits.
const (
	MaxStimulusBytes    = 512 << 20 // a stimulus file (an advert, a trailer)
	MaxStimuliPerProj   = 50
	DefaultImageS       = 5.0 // an image's display time when none is given
	MinImageS           = 0.5
	MaxImageS           = 120.0
	StimulusThumbnails  = 8   // frames in a video's thumbnail strip
	StimulusThumbWidth  = 160 // pixels
	MaxStimulusSegments = 50
	// StimulusUploadTTL is how long a stimulus upload link is valid.
	StimulusUploadTTL = 2 * time.Hour
)

// Stimulus is one video or image of a project.
type Stimulus struct {
	ID              string         `json:"id"`
	ClientID        string         `json:"clientId"`
	ProjectID       string         `json:"projectId"`
	Name            string         `json:"name"`
	Kind            StimulusKind   `json:"kind"`
	DisplayS        float64        `json:"displayS,omitempty"` // images: seconds on screen
	Status          StimulusStatus `json:"status"`
	Refusal         *Failure       `json:"refusal,omitempty"`
	Media           *StimulusMedia `json:"media,omitempty"`
	Thumbnails      int            `json:"thumbnails"` // frames of the strip stored (StimulusThumbName)
	Segments        []Segment      `json:"segments"`
	UploadExpiresAt time.Time      `json:"uploadExpiresAt"`
	CreatedAt       time.Time      `json:"createdAt"`
	UpdatedAt       time.Time      `json:"updatedAt"`
	ETag            string         `json:"-"`
}

// StimulusMedia is what probing found of a stimulus's file.
type StimulusMedia struct {
	Container   string  `json:"container"` // mp4, webm, jpeg, png, webp
	VideoCodec  string  `json:"videoCodec,omitempty"`
	AudioCodec  string  `json:"audioCodec,omitempty"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	DurationS   float64 `json:"durationS"` // 0 for images
	SizeBytes   int64   `json:"sizeBytes"`
	ContentType string  `json:"contentType"`
}

// Segment is a named part of a stimulus (a scene, the brand's reveal)
// whose results the client wants on their own.
type Segment struct {
	Name  string  `json:"name"`
	FromS float64 `json:"fromS"`
	ToS   float64 `json:"toS"`
}

// LengthS is how long the stimulus is on screen: its duration, or an
// image's display time.
func (s *Stimulus) LengthS() float64 {
	if s.Kind == StimImage {
		return s.DisplayS
	}
	if s.Media != nil {
		return s.Media.DurationS
	}
	return 0
}

// StimulusPrefix starts the blob name of every stimulus and its
// thumbnails in the uploads container, apart from participants' videos
// (<projectId>/<recordingId>).
const StimulusPrefix = "stimuli/"

// StimulusBlob is the blob name of a stimulus's file.
func StimulusBlob(projectID, id string) string { return StimulusPrefix + projectID + "/" + id }

// StimulusThumbName is the blob name of the i-th frame of its strip.
func StimulusThumbName(projectID, id string, i int) string {
	return fmt.Sprintf("%s.thumb.%02d.jpg", StimulusBlob(projectID, id), i)
}

// ParseStimulusBlob splits a blob name under StimulusPrefix into its
// project and stimulus ids; thumb says it is a thumbnail. ok is false for
// any other name.
func ParseStimulusBlob(name string) (projectID, id string, thumb, ok bool) {
	rest, found := strings.CutPrefix(name, StimulusPrefix)
	if !found {
		return "", "", false, false
	}
	projectID, id, found = strings.Cut(rest, "/")
	if !found {
		return "", "", false, false
	}
	if base, _, isThumb := strings.Cut(id, ".thumb."); isThumb {
		id, thumb = base, true
	}
	if !ValidID(projectID) || !ValidID(id) {
		return "", "", false, false
	}
	return projectID, id, thumb, true
}

// StudyDesign is what a project's participants watch: its stimuli in
// order, or in an order of their own (Shuffle), after an optional
// neutral baseline (a fixation cross for BaselineS seconds) that
// calibrates each participant's resting expression.
type StudyDesign struct {
	Stimuli   []string `json:"stimuli"`
	Shuffle   bool     `json:"shuffle"`
	BaselineS float64  `json:"baselineS"`
	// Calibrate offers baseline-corrected figures beside the raw ones:
	// each participant's mean expression during the baseline subtracted.
	Calibrate bool `json:"calibrate"`
}

// MaxBaselineS bounds the baseline.
const MaxBaselineS = 30.0

// ViewingLogSuffix names a recording's viewing log beside its video:
// <projectId>/<recordingId> + ViewingLogSuffix, written by the
// participant page through its own create-only link before the video.
const ViewingLogSuffix = ".viewing.json"

// MaxViewingLogBytes bounds a viewing log's file.
const MaxViewingLogBytes = 2 << 20
