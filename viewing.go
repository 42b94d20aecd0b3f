package facet

import "sort"

// A stimulus study shows a participant a sequence of stimuli (videos and
// images, optionally after a neutral baseline) while one webcam recording
// runs through the whole sequence. The participant page writes a viewing
// log of what was on screen when; Align turns it into the spans of the
// recording during which one stimulus was both advancing and in front of
// the participant, so that each sampled frame can be read against the
// moment of the stimulus it reacts to.

// ViewKind is what the participant page saw happen at one moment.
type ViewKind string

// Viewing log event kinds. The media kinds are the HTML media element
// events of the same names; blur and focus are the window's.
const (
	// ViewStart: a stimulus came on screen (Media says video or image).
	ViewStart ViewKind = "start"
	// ViewEnd: the stimulus left the screen.
	ViewEnd ViewKind = "end"
	// ViewPlaying: the video is advancing, at first or again after a
	// stall, a pause or a seek.
	ViewPlaying ViewKind = "playing"
	// ViewWaiting: the video stalled, waiting for data.
	ViewWaiting ViewKind = "waiting"
	// ViewPause: the video was paused.
	ViewPause ViewKind = "pause"
	// ViewEnded: the video reached its end (it may stay on screen).
	ViewEnded ViewKind = "ended"
	// ViewBlur: the participant's window lost focus.
	ViewBlur ViewKind = "blur"
	// ViewFocus: the window got focus back.
	ViewFocus ViewKind = "focus"
)

// MediaKind says how a stimulus is shown: a video advances only while it
// plays, an image from the moment it appears.
type MediaKind string

// Stimulus media kinds.
const (
	MediaVideo MediaKind = "video"
	MediaImage MediaKind = "image"
)

// BaselineID is the stimulus id of the neutral baseline some sequences
// show first; it is aligned like any other stimulus.
const BaselineID = "baseline"

// Limits and tolerances of viewing logs.
const (
	// MaxViewEvents bounds a log: a real one holds a handful of events per
	// stimulus plus one pair per stall or lost focus, so 20,000 is far
	// above any honest log and still cheap to check and align.
	MaxViewEvents = 20000
	// MaxViewingS bounds every time in a log (one day): no recording is
	// that long, and the bound keeps the arithmetic far from float64's
	// loss of precision.
	MaxViewingS = 24 * 60 * 60
	// ViewClockTolS is how long a stimulus may be seen before the
	// recorder's start, and how far the log's last event may follow the
	// recording's end, before Align warns: the recorder's start and the
	// duration read from the file disagree with the page's clock by a few
	// frames.
	ViewClockTolS = 0.5
	// ViewTailS is how much longer than the log the recording may run
	// before Align warns: the page stops the recorder after the last
	// event, and the recorder then flushes its last chunk (the
	// participant page records in 1 s chunks).
	ViewTailS = 2.0
)

// Alignment warnings. Log-wide warnings are the bare code; the stimulus
// warnings are the code, ":" and the stimulus id (ids hold no ":").
const (
	// WarnRecorderLate: a stimulus advanced more than ViewClockTolS before
	// the recorder started (see ViewingLog.RecorderStartT); that part of
	// its viewing has no frames.
	WarnRecorderLate = "recorder_late"
	// WarnLogPastRecording: the log's last event is more than
	// ViewClockTolS after the recording's end; the frames beyond do not
	// exist, and a large gap suggests the log of another recording.
	WarnLogPastRecording = "log_past_recording"
	// WarnRecordingPastLog: the recording runs more than ViewTailS past
	// the log's last event: the log may have lost its end.
	WarnRecordingPastLog = "recording_past_log"
	// WarnStrayEvents: events named a stimulus that was not on screen;
	// they were ignored.
	WarnStrayEvents = "stray_events"
	// WarnStimulusUnfinished: a stimulus started and got no end (the
	// participant left, or the next stimulus replaced it); its spans up to
	// the log's last event are kept.
	WarnStimulusUnfinished = "stimulus_unfinished"
	// WarnStimulusSkipped: a stimulus of the design never started.
	WarnStimulusSkipped = "stimulus_skipped"
	// WarnStimulusUnexpected: the log shows a stimulus the design does not
	// hold; its spans are kept, the caller decides.
	WarnStimulusUnexpected = "stimulus_unexpected"
)

// ViewEvent is one entry of a viewing log.
type ViewEvent struct {
	// T is when it happened, in seconds on the log's clock (the
	// recorder's, shifted by ViewingLog.RecorderStartT).
	T    float64  `json:"t"`
	Kind ViewKind `json:"kind"`
	// Stimulus is the id of the stimulus on screen: required on start,
	// end and the media events; on blur and focus empty between stimuli.
	Stimulus string `json:"stimulus,omitempty"`
	// Media is required on start events and empty on every other.
	Media MediaKind `json:"media,omitempty"`
	// MediaT is the stimulus's own time: a video's currentTime, the
	// seconds an image has been shown. It anchors the mapping of
	// recording time to stimulus time at playing, focus and image starts.
	MediaT float64 `json:"mediaT"`
}

// ViewingLog is what the participant page saw on screen during one
// recording, posted with the upload. Events are in the order they happened;
// times never decrease (the page stamps each from one monotonic clock as it
// appends it, so no jitter is allowed: a decrease is a bug, not noise).
type ViewingLog struct {
	// RecorderStartT is when the recorder started, on the events' clock:
	// recording time = T - RecorderStartT. Zero when the page stamps
	// events on the recorder's clock; a page that stamps from its own
	// origin gives the time of the recorder's start event instead.
	RecorderStartT float64     `json:"recorderStartT"`
	Events         []ViewEvent `json:"events"`
}

// Validate checks the log's shape (not whether its events make sense
// together: Align ignores and reports those that do not). Errors are
// EInvalid and name the field, as the API's problem details do.
func (l ViewingLog) Validate() error {
	if len(l.Events) > MaxViewEvents {
		return Errorf(EInvalid, "viewingLog: events: at most %d events", MaxViewEvents)
	}
	if !finiteWithin(l.RecorderStartT, -MaxViewingS) {
		return Errorf(EInvalid, "viewingLog: recorderStartT: must be seconds within a day of 0")
	}
	prev := 0.0
	for i, e := range l.Events {
		if err := e.validate(i, prev); err != nil {
			return err
		}
		prev = e.T
	}
	return nil
}

// validate checks one event; prev is the time of the one before (0 for
// the first, as times are non-negative anyway).
func (e ViewEvent) validate(i int, prev float64) error {
	switch {
	case !finiteWithin(e.T, 0):
		return Errorf(EInvalid, "viewingLog: events[%d].t: must be seconds from 0 to %d", i, MaxViewingS)
	case e.T < prev:
		return Errorf(EInvalid, "viewingLog: events[%d].t: earlier than events[%d].t", i, i-1)
	case !e.Kind.valid():
		return Errorf(EInvalid, "viewingLog: events[%d].kind: must be one of start, end, playing, waiting, pause, ended, blur, focus", i)
	case e.Stimulus == "" && e.Kind != ViewBlur && e.Kind != ViewFocus:
		return Errorf(EInvalid, "viewingLog: events[%d].stimulus: required", i)
	case e.Stimulus != "" && e.Stimulus != BaselineID && !ValidID(e.Stimulus):
		return Errorf(EInvalid, "viewingLog: events[%d].stimulus: not a stimulus id", i)
	case e.Kind == ViewStart && e.Media != MediaVideo && e.Media != MediaImage:
		return Errorf(EInvalid, "viewingLog: events[%d].media: must be video or image", i)
	case e.Kind != ViewStart && e.Media != "":
		return Errorf(EInvalid, "viewingLog: events[%d].media: only on start events", i)
	case !finiteWithin(e.MediaT, 0):
		return Errorf(EInvalid, "viewingLog: events[%d].mediaT: must be seconds from 0 to %d", i, MaxViewingS)
	}
	return nil
}

// finiteWithin reports whether v is a number in [lo, MaxViewingS]; NaN
// fails every comparison, so it is refused with the infinities.
func finiteWithin(v, lo float64) bool { return v >= lo && v <= MaxViewingS }

func (k ViewKind) valid() bool {
	switch k {
	case ViewStart, ViewEnd, ViewPlaying, ViewWaiting, ViewPause, ViewEnded, ViewBlur, ViewFocus:
		return true
	}
	return false
}

// ViewSpan is an interval of the recording, [Start, End) in seconds on the
// recording's clock, during which one stimulus advanced in front of the
// participant: the stimulus's time at recording time t is
// MediaT + (t - Start).
type ViewSpan struct {
	Stimulus string  `json:"stimulus"`
	Start    float64 `json:"start"`
	End      float64 `json:"end"`
	MediaT   float64 `json:"mediaT"`
}

// Alignment maps recording time to stimulus time.
type Alignment struct {
	// Spans are in time order and never overlap.
	Spans []ViewSpan `json:"spans"`
	// Warnings say where the log and the recording disagree or the log
	// misses part of the design (see the Warn constants); absent when
	// there is nothing to say.
	Warnings []string `json:"warnings,omitempty"`
}

// Align builds the spans of the recording, recordingS seconds long, during
// which a stimulus was visible and advancing. A video advances from each
// playing event until waiting, pause, ended, end, blur or the start of
// another stimulus; an image from its start until its end or a blur; after
// a blur, focus resumes whatever was still advancing. Every playing and
// focus event anchors the mapping anew at its MediaT, so stalls, seeks and
// clock drift do not add up. Spans are cut to the recording: time before
// the recorder started and after the file ends has no frames. expect, when
// given, is the design's stimulus ids, checked for skipped and unexpected
// ones (the baseline is expected only if listed).
func Align(log ViewingLog, recordingS float64, expect ...string) (*Alignment, error) {
	if err := log.Validate(); err != nil {
		return nil, err
	}
	if !(recordingS > 0 && recordingS <= MaxViewingS) {
		return nil, Errorf(EInvalid, "align: recording duration must be seconds above 0 and at most %d", MaxViewingS)
	}
	al := aligner{started: map[string]bool{}}
	for _, e := range log.Events {
		al.step(e, e.T-log.RecorderStartT)
	}
	lastR := 0.0 // an empty log ends where the recording begins
	if n := len(log.Events); n > 0 {
		lastR = log.Events[n-1].T - log.RecorderStartT
	}
	al.leave(lastR)
	if len(al.spans) > 0 && al.spans[0].Start < -ViewClockTolS {
		al.warn.add(WarnRecorderLate, "")
	}
	if lastR > recordingS+ViewClockTolS {
		al.warn.add(WarnLogPastRecording, "")
	}
	if recordingS > lastR+ViewTailS {
		al.warn.add(WarnRecordingPastLog, "")
	}
	al.checkDesign(expect)
	return &Alignment{Spans: clipSpans(al.spans, recordingS), Warnings: al.warn.list}, nil
}

// aligner is the state of the screen while Align walks the log.
type aligner struct {
	spans    []ViewSpan
	cur      string // stimulus on screen, "" between stimuli
	image    bool   // cur is an image
	playing  bool   // cur advances: a playing video, or an image
	blurred  bool   // the window lost focus
	open     bool   // a span runs from (start, mediaT)
	start    float64
	mediaT   float64
	started  map[string]bool
	order    []string // stimuli in order of first start
	warn     warnings
	hasStray bool
}

// step applies one event at recording time r.
func (al *aligner) step(e ViewEvent, r float64) {
	switch e.Kind {
	case ViewStart:
		al.leave(r)
		al.cur, al.image, al.playing = e.Stimulus, e.Media == MediaImage, e.Media == MediaImage
		if !al.started[e.Stimulus] {
			al.started[e.Stimulus] = true
			al.order = append(al.order, e.Stimulus)
		}
		al.resume(r, e.MediaT)
	case ViewEnd:
		if al.onScreen(e) {
			al.close(r)
			al.cur = ""
		}
	case ViewPlaying:
		if al.onScreen(e) && !al.image {
			al.playing = true
			al.close(r)
			al.resume(r, e.MediaT)
		}
	case ViewWaiting, ViewPause, ViewEnded:
		// An image has no media events to stall it; the page logs none.
		if al.onScreen(e) && !al.image {
			al.playing = false
			al.close(r)
		}
	case ViewBlur:
		// The window lost focus whatever the event names; a wrong name is
		// only noted.
		al.onScreen(e)
		al.blurred = true
		al.close(r)
	case ViewFocus:
		if al.blurred {
			al.blurred = false
			// Without the stimulus's MediaT there is no anchor: the span
			// waits for the next playing event.
			if al.onScreen(e) {
				al.resume(r, e.MediaT)
			}
		}
	}
}

// onScreen reports whether e names the stimulus on screen, and notes a
// stray event when it does not.
func (al *aligner) onScreen(e ViewEvent) bool {
	if e.Stimulus != al.cur {
		if !al.hasStray {
			al.hasStray = true
			al.warn.add(WarnStrayEvents, "")
		}
		return false
	}
	return true
}

// resume opens a span anchored at (r, mediaT) if the stimulus on screen
// advances in front of the participant.
func (al *aligner) resume(r, mediaT float64) {
	if al.cur != "" && al.playing && !al.blurred {
		al.open, al.start, al.mediaT = true, r, mediaT
	}
}

// close ends the open span at r; an empty one is dropped.
func (al *aligner) close(r float64) {
	if al.open && r > al.start {
		al.spans = append(al.spans, ViewSpan{Stimulus: al.cur, Start: al.start, End: r, MediaT: al.mediaT})
	}
	al.open = false
}

// leave takes the stimulus on screen off without an end event: another
// started, or the log stopped.
func (al *aligner) leave(r float64) {
	if al.cur != "" {
		al.close(r)
		al.warn.add(WarnStimulusUnfinished, al.cur)
		al.cur = ""
	}
}

// checkDesign compares the stimuli shown with the design's, if given.
func (al *aligner) checkDesign(expect []string) {
	if len(expect) == 0 {
		return
	}
	want := map[string]bool{}
	for _, id := range expect {
		want[id] = true
		if !al.started[id] {
			al.warn.add(WarnStimulusSkipped, id)
		}
	}
	for _, id := range al.order {
		if !want[id] && id != BaselineID {
			al.warn.add(WarnStimulusUnexpected, id)
		}
	}
}

// clipSpans cuts spans to [0, recordingS], moving the anchor of a span
// that began before the recorder so that its mapping stays the same.
func clipSpans(spans []ViewSpan, recordingS float64) []ViewSpan {
	out := make([]ViewSpan, 0, len(spans))
	for _, s := range spans {
		if s.Start < 0 {
			s.MediaT -= s.Start
			s.Start = 0
		}
		s.End = min(s.End, recordingS)
		if s.End > s.Start {
			out = append(out, s)
		}
	}
	return out
}

// warnings collects warnings once each, in the order first met.
type warnings struct {
	list []string
	seen map[string]bool
}

func (w *warnings) add(code, stimulus string) {
	if stimulus != "" {
		code += ":" + stimulus
	}
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if !w.seen[code] {
		w.seen[code] = true
		w.list = append(w.list, code)
	}
}

// Place returns the stimulus on screen at recording time t and the
// stimulus's own time then; ok is false when no stimulus advanced in front
// of the participant (between stimuli, stalls, pauses, lost focus, before
// or after the log).
func (a *Alignment) Place(t float64) (stimulus string, stimT float64, ok bool) {
	if a == nil {
		return "", 0, false
	}
	i := sort.Search(len(a.Spans), func(i int) bool { return a.Spans[i].End > t })
	if i == len(a.Spans) || a.Spans[i].Start > t {
		return "", 0, false
	}
	s := a.Spans[i]
	return s.Stimulus, s.MediaT + (t - s.Start), true
}

// Placement is where one analysed frame falls in the stimulus sequence.
type Placement struct {
	Frame    int    `json:"frame"` // index into the frames placed
	Stimulus string `json:"stimulus"`
	StimT    Num    `json:"stimT"`
}

// PlaceFrames places each frame by its time and returns the placed ones
// in frame order; frames outside every span are left out.
func (a *Alignment) PlaceFrames(frames []Frame) []Placement {
	var out []Placement
	for i, f := range frames {
		if id, st, ok := a.Place(float64(f.T)); ok {
			out = append(out, Placement{Frame: i, Stimulus: id, StimT: Num(st)})
		}
	}
	return out
}
