package facet

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Stimulus ids of the tests, in the shape the service makes.
const (
	stA = "st_00000000000000000000000a"
	stB = "st_00000000000000000000000b"
	stC = "st_00000000000000000000000c"
	stD = "st_00000000000000000000000d"
)

func ev(t float64, k ViewKind, id string, mediaT float64) ViewEvent {
	return ViewEvent{T: t, Kind: k, Stimulus: id, MediaT: mediaT}
}

func video(t float64, id string) ViewEvent {
	return ViewEvent{T: t, Kind: ViewStart, Stimulus: id, Media: MediaVideo}
}

func image(t float64, id string) ViewEvent {
	return ViewEvent{T: t, Kind: ViewStart, Stimulus: id, Media: MediaImage}
}

// probe is one recording time and where it must be placed (id "" = not
// placed).
type probe struct {
	t     float64
	id    string
	stimT float64
}

const approx = 1e-9

// alignCases are the logs of TestAlign. Every expected span and placement
// is computed by hand from the log; the comments give the arithmetic where
// it is not obvious.
var alignCases = []struct {
	name   string
	log    ViewingLog
	recS   float64
	expect []string
	spans  []ViewSpan
	warn   []string
	probes []probe
}{
	{
		name: "baseline, video, image",
		log: ViewingLog{Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
			video(3, stA), ev(3.2, ViewPlaying, stA, 0), ev(13.2, ViewEnded, stA, 10), ev(13.3, ViewEnd, stA, 10),
			image(13.3, stB), ev(16.3, ViewEnd, stB, 3),
		}},
		recS:   16.8,
		expect: []string{BaselineID, stA, stB},
		spans:  []ViewSpan{{BaselineID, 0, 3, 0}, {stA, 3.2, 13.2, 0}, {stB, 13.3, 16.3, 0}},
		probes: []probe{
			{0, BaselineID, 0}, {1, BaselineID, 1},
			{3, "", 0}, {3.1, "", 0}, // the video is on screen, not yet playing
			{3.2, stA, 0}, {5, stA, 1.8}, {13.2, "", 0}, {13.25, "", 0},
			{13.3, stB, 0}, {14, stB, 0.7}, {16.3, "", 0}, {16.5, "", 0},
			{-1, "", 0}, {math.NaN(), "", 0}, {math.Inf(1), "", 0},
		},
	},
	{
		name: "1.2 s stall",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0.5, ViewPlaying, stA, 0),
			ev(4.5, ViewWaiting, stA, 3.98), ev(5.7, ViewPlaying, stA, 3.98),
			ev(11.72, ViewEnded, stA, 10), ev(12, ViewEnd, stA, 10),
		}},
		recS:  12.5,
		spans: []ViewSpan{{stA, 0.5, 4.5, 0}, {stA, 5.7, 11.72, 3.98}},
		probes: []probe{
			{4.4, stA, 3.9}, {4.5, "", 0}, {5, "", 0}, {5.6, "", 0},
			// From the media time at playing, not the wall time
			// (6.7 - 0.5 = 6.2).
			{5.7, stA, 3.98}, {6.7, stA, 4.98}, {11.8, "", 0},
		},
	},
	{
		name: "pause",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0), ev(3, ViewPause, stA, 3),
			ev(7, ViewPlaying, stA, 3), ev(10, ViewEnded, stA, 6), ev(10, ViewEnd, stA, 6),
		}},
		recS:   10,
		spans:  []ViewSpan{{stA, 0, 3, 0}, {stA, 7, 10, 3}},
		probes: []probe{{2, stA, 2}, {3, "", 0}, {5, "", 0}, {8, stA, 4}},
	},
	{
		name: "blur and focus",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0),
			// The video played on behind another window.
			ev(2, ViewBlur, stA, 2), ev(4, ViewFocus, stA, 4),
			// Paused before the blur: focus does not resume it.
			ev(6, ViewPause, stA, 6), ev(6.5, ViewBlur, stA, 6), ev(7, ViewFocus, stA, 6),
			ev(8, ViewPlaying, stA, 6), ev(10, ViewEnded, stA, 8), ev(10, ViewEnd, stA, 8),
			image(10, stB), ev(11, ViewBlur, stB, 1), ev(12, ViewFocus, stB, 2), ev(14, ViewEnd, stB, 4),
		}},
		recS:  14,
		spans: []ViewSpan{{stA, 0, 2, 0}, {stA, 4, 6, 4}, {stA, 8, 10, 6}, {stB, 10, 11, 0}, {stB, 12, 14, 2}},
		probes: []probe{
			{1, stA, 1}, {3, "", 0}, {5, stA, 5}, {6.8, "", 0}, {7.5, "", 0}, {9, stA, 7},
			{10.5, stB, 0.5}, {11.5, "", 0}, {13, stB, 3},
		},
	},
	{
		name: "stall and resume while blurred",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0), ev(2, ViewBlur, stA, 2),
			ev(3, ViewWaiting, stA, 3), ev(4, ViewPlaying, stA, 3), ev(5, ViewFocus, stA, 4),
			ev(8, ViewEnded, stA, 7), ev(8, ViewEnd, stA, 7),
		}},
		recS:   8,
		spans:  []ViewSpan{{stA, 0, 2, 0}, {stA, 5, 8, 4}},
		probes: []probe{{4.5, "", 0}, {6, stA, 5}},
	},
	{
		name: "focus without blur changes nothing",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0), ev(1, ViewFocus, stA, 5),
			ev(3, ViewEnded, stA, 3), ev(3, ViewEnd, stA, 3),
		}},
		recS:   3,
		spans:  []ViewSpan{{stA, 0, 3, 0}},
		probes: []probe{{2, stA, 2}},
	},
	{
		name: "seek backwards",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0),
			// Back to 2 s with buffering, then back to 0.5 s at once.
			ev(5, ViewWaiting, stA, 5), ev(5.1, ViewPlaying, stA, 2),
			ev(7, ViewPlaying, stA, 0.5),
			ev(12, ViewEnded, stA, 5.5), ev(12, ViewEnd, stA, 5.5),
		}},
		recS:  12,
		spans: []ViewSpan{{stA, 0, 5, 0}, {stA, 5.1, 7, 2}, {stA, 7, 12, 0.5}},
		probes: []probe{
			{4.9, stA, 4.9}, {5.05, "", 0}, {6, stA, 2.9}, {6.99, stA, 3.89}, {7, stA, 0.5}, {8, stA, 1.5},
		},
	},
	{
		name: "skipped and unexpected stimuli",
		log: ViewingLog{Events: []ViewEvent{
			image(0, BaselineID), ev(2, ViewEnd, BaselineID, 2),
			video(2, stA), ev(2, ViewPlaying, stA, 0), ev(4, ViewEnded, stA, 2), ev(4, ViewEnd, stA, 2),
			video(4, stD), ev(4, ViewPlaying, stD, 0), ev(5, ViewEnded, stD, 1), ev(5, ViewEnd, stD, 1),
		}},
		recS: 5,
		// The baseline is optional: unlisted, it is not unexpected.
		expect: []string{stA, stB, stC},
		spans:  []ViewSpan{{BaselineID, 0, 2, 0}, {stA, 2, 4, 0}, {stD, 4, 5, 0}},
		warn:   []string{"stimulus_skipped:" + stB, "stimulus_skipped:" + stC, "stimulus_unexpected:" + stD},
		probes: []probe{{4.5, stD, 0.5}},
	},
	{
		name: "recorder started 1.5 s after the log's origin",
		log: ViewingLog{RecorderStartT: 1.5, Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
			video(3, stA), ev(3.5, ViewPlaying, stA, 0), ev(8.5, ViewEnded, stA, 5), ev(8.6, ViewEnd, stA, 5),
		}},
		recS: 7.2, // 8.6 - 1.5 + 0.1
		// The baseline ran from -1.5 to 1.5 on the recorder's clock:
		// its first 1.5 s have no frames.
		spans: []ViewSpan{{BaselineID, 0, 1.5, 1.5}, {stA, 2, 7, 0}},
		warn:  []string{WarnRecorderLate},
		probes: []probe{
			{0, BaselineID, 1.5}, {1, BaselineID, 2.5}, {1.7, "", 0},
			{2, stA, 0}, {3, stA, 1}, {6.9, stA, 4.9}, {7.05, "", 0},
		},
	},
	{
		name: "recorder late within tolerance",
		log: ViewingLog{RecorderStartT: 0.3, Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
		}},
		recS:   3,
		spans:  []ViewSpan{{BaselineID, 0, 2.7, 0.3}},
		probes: []probe{{0, BaselineID, 0.3}, {2, BaselineID, 2.3}, {2.8, "", 0}},
	},
	{
		name: "recorder started before the log's origin",
		log: ViewingLog{RecorderStartT: -2, Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
		}},
		recS:   5.5,
		spans:  []ViewSpan{{BaselineID, 2, 5, 0}},
		probes: []probe{{1, "", 0}, {2.5, BaselineID, 0.5}},
	},
	{
		name: "log longer than the recording",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0.2, ViewPlaying, stA, 0), ev(20.2, ViewEnded, stA, 20), ev(20.3, ViewEnd, stA, 20),
		}},
		recS:   12,
		spans:  []ViewSpan{{stA, 0.2, 12, 0}},
		warn:   []string{WarnLogPastRecording},
		probes: []probe{{11.9, stA, 11.7}, {12, "", 0}, {15, "", 0}},
	},
	{
		name: "log past the recording within tolerance",
		log: ViewingLog{Events: []ViewEvent{
			image(0, stB), ev(10.4, ViewEnd, stB, 10.4),
		}},
		recS:   10,
		spans:  []ViewSpan{{stB, 0, 10, 0}},
		probes: []probe{{9.9, stB, 9.9}, {10.2, "", 0}},
	},
	{
		name: "recording longer than the log",
		log: ViewingLog{Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
		}},
		recS:   5.1,
		spans:  []ViewSpan{{BaselineID, 0, 3, 0}},
		warn:   []string{WarnRecordingPastLog},
		probes: []probe{{4, "", 0}},
	},
	{
		name: "recording longer than the log within tolerance",
		log: ViewingLog{Events: []ViewEvent{
			image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3),
		}},
		recS:  5,
		spans: []ViewSpan{{BaselineID, 0, 3, 0}},
	},
	{
		name: "participant left mid-way",
		log: ViewingLog{Events: []ViewEvent{
			image(0, BaselineID), ev(2, ViewEnd, BaselineID, 2),
			video(2, stA), ev(2.2, ViewPlaying, stA, 0),
			ev(6, ViewWaiting, stA, 3.8), ev(6.5, ViewPlaying, stA, 3.8), ev(9, ViewPause, stA, 6.3),
		}},
		recS:   9.4,
		expect: []string{stA, stB},
		spans:  []ViewSpan{{BaselineID, 0, 2, 0}, {stA, 2.2, 6, 0}, {stA, 6.5, 9, 3.8}},
		warn:   []string{"stimulus_unfinished:" + stA, "stimulus_skipped:" + stB},
		probes: []probe{{8, stA, 5.3}, {9.2, "", 0}},
	},
	{
		name: "log stops while a stimulus plays",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0), ev(3, ViewBlur, stA, 3), ev(4, ViewFocus, stA, 4),
		}},
		recS: 5,
		// Nothing says the video played on after the last event.
		spans:  []ViewSpan{{stA, 0, 3, 0}},
		warn:   []string{"stimulus_unfinished:" + stA},
		probes: []probe{{2, stA, 2}, {4, "", 0}, {4.5, "", 0}},
	},
	{
		name: "start of another without end",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0), image(5, stB), ev(7, ViewEnd, stB, 2),
		}},
		recS:   7,
		spans:  []ViewSpan{{stA, 0, 5, 0}, {stB, 5, 7, 0}},
		warn:   []string{"stimulus_unfinished:" + stA},
		probes: []probe{{4.9, stA, 4.9}, {5, stB, 0}},
	},
	{
		name: "stray events are ignored",
		log: ViewingLog{Events: []ViewEvent{
			video(0, stA), ev(0, ViewPlaying, stA, 0),
			ev(1, ViewWaiting, stB, 0), ev(2, ViewEnd, stB, 0), ev(2.5, ViewFocus, stB, 0),
			ev(3, ViewEnded, stA, 3), ev(3, ViewEnd, stA, 3),
			ev(4, ViewPlaying, stA, 3), ev(4, ViewBlur, stA, 3), ev(4.5, ViewFocus, "", 3),
		}},
		recS:   4.5,
		spans:  []ViewSpan{{stA, 0, 3, 0}},
		warn:   []string{WarnStrayEvents},
		probes: []probe{{1.5, stA, 1.5}, {4.2, "", 0}},
	},
	{
		name: "media events do not stall an image",
		log: ViewingLog{Events: []ViewEvent{
			image(0, stB), ev(1, ViewWaiting, stB, 1), ev(1.5, ViewPlaying, stB, 0), ev(2, ViewEnd, stB, 2),
		}},
		recS:   2,
		spans:  []ViewSpan{{stB, 0, 2, 0}},
		probes: []probe{{1.2, stB, 1.2}, {1.7, stB, 1.7}},
	},
	{
		name: "focus lost before the first stimulus",
		log: ViewingLog{Events: []ViewEvent{
			ev(0, ViewBlur, "", 0), image(1, stB), ev(2, ViewFocus, stB, 1), ev(4, ViewEnd, stB, 3),
		}},
		recS:   4,
		spans:  []ViewSpan{{stB, 2, 4, 1}},
		probes: []probe{{1.5, "", 0}, {3, stB, 2}},
	},
	{
		name:  "empty log",
		recS:  10,
		warn:  []string{WarnRecordingPastLog},
		spans: []ViewSpan{},
	},
}

func TestAlign(t *testing.T) {
	for _, c := range alignCases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Align(c.log, c.recS, c.expect...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.spans, a.Spans, cmpopts.EquateApprox(0, approx), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.warn, a.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, p := range c.probes {
				id, st, ok := a.Place(p.t)
				if id != p.id || ok != (p.id != "") || math.Abs(st-p.stimT) > approx {
					t.Errorf("Place(%v) = %q, %v, %v; want %q, %v", p.t, id, st, ok, p.id, p.stimT)
				}
			}
		})
	}
}

// validLog is a small log every case of TestViewingLogValidate spoils in
// one place.
func validLog() ViewingLog {
	return ViewingLog{Events: []ViewEvent{
		image(0, BaselineID), ev(2, ViewEnd, BaselineID, 2),
		video(2, stA), ev(2.1, ViewPlaying, stA, 0), ev(3, ViewBlur, "", 0.9), ev(3, ViewFocus, stA, 0.9),
		ev(4, ViewEnded, stA, 1.9), ev(4, ViewEnd, stA, 1.9),
	}}
}

func TestViewingLogValidate(t *testing.T) {
	many := make([]ViewEvent, MaxViewEvents+1)
	for i := range many {
		many[i] = ev(float64(i)/100, ViewBlur, "", 0)
	}
	cases := []struct {
		name  string
		spoil func(*ViewingLog)
		want  string // "" = valid
	}{
		{"valid", func(*ViewingLog) {}, ""},
		{"empty", func(l *ViewingLog) { l.Events = nil }, ""},
		{"as many events as allowed", func(l *ViewingLog) { l.Events = many[:MaxViewEvents] }, ""},
		{"too many events", func(l *ViewingLog) { l.Events = many }, "viewingLog: events: at most 20000 events"},
		{"negative offset", func(l *ViewingLog) { l.RecorderStartT = -3 }, ""},
		{"offset NaN", func(l *ViewingLog) { l.RecorderStartT = math.NaN() }, "viewingLog: recorderStartT: must be seconds within a day of 0"},
		{"offset infinite", func(l *ViewingLog) { l.RecorderStartT = math.Inf(1) }, "viewingLog: recorderStartT: must be seconds within a day of 0"},
		{"offset over a day", func(l *ViewingLog) { l.RecorderStartT = -MaxViewingS - 1 }, "viewingLog: recorderStartT: must be seconds within a day of 0"},
		{"t NaN", func(l *ViewingLog) { l.Events[3].T = math.NaN() }, "viewingLog: events[3].t: must be seconds from 0 to 86400"},
		{"t infinite", func(l *ViewingLog) { l.Events[7].T = math.Inf(1) }, "viewingLog: events[7].t: must be seconds from 0 to 86400"},
		{"t negative", func(l *ViewingLog) { l.Events[0].T = -0.001 }, "viewingLog: events[0].t: must be seconds from 0 to 86400"},
		{"t over a day", func(l *ViewingLog) { l.Events[7].T = MaxViewingS + 1 }, "viewingLog: events[7].t: must be seconds from 0 to 86400"},
		{"t decreasing", func(l *ViewingLog) { l.Events[4].T = 2.0999 }, "viewingLog: events[4].t: earlier than events[3].t"},
		{"kind unknown", func(l *ViewingLog) { l.Events[1].Kind = "stop" }, "viewingLog: events[1].kind: must be one of start, end, playing, waiting, pause, ended, blur, focus"},
		{"kind empty", func(l *ViewingLog) { l.Events[1].Kind = "" }, "viewingLog: events[1].kind: must be one of start, end, playing, waiting, pause, ended, blur, focus"},
		{"kind in capitals", func(l *ViewingLog) { l.Events[1].Kind = "END" }, "viewingLog: events[1].kind: must be one of start, end, playing, waiting, pause, ended, blur, focus"},
		{"stimulus missing on a media event", func(l *ViewingLog) { l.Events[3].Stimulus = "" }, "viewingLog: events[3].stimulus: required"},
		{"stimulus missing on start", func(l *ViewingLog) { l.Events[2].Stimulus = "" }, "viewingLog: events[2].stimulus: required"},
		{"stimulus named freely", func(l *ViewingLog) { l.Events[2].Stimulus = "ad-1" }, "viewingLog: events[2].stimulus: not a stimulus id"},
		{"baseline in capitals", func(l *ViewingLog) { l.Events[0].Stimulus = "Baseline" }, "viewingLog: events[0].stimulus: not a stimulus id"},
		{"stimulus invalid on blur", func(l *ViewingLog) { l.Events[4].Stimulus = "st_1" }, "viewingLog: events[4].stimulus: not a stimulus id"},
		{"media missing on start", func(l *ViewingLog) { l.Events[2].Media = "" }, "viewingLog: events[2].media: must be video or image"},
		{"media unknown", func(l *ViewingLog) { l.Events[2].Media = "audio" }, "viewingLog: events[2].media: must be video or image"},
		{"media on another event", func(l *ViewingLog) { l.Events[3].Media = MediaVideo }, "viewingLog: events[3].media: only on start events"},
		{"mediaT negative", func(l *ViewingLog) { l.Events[3].MediaT = -0.1 }, "viewingLog: events[3].mediaT: must be seconds from 0 to 86400"},
		{"mediaT NaN", func(l *ViewingLog) { l.Events[5].MediaT = math.NaN() }, "viewingLog: events[5].mediaT: must be seconds from 0 to 86400"},
		{"mediaT infinite", func(l *ViewingLog) { l.Events[5].MediaT = math.Inf(1) }, "viewingLog: events[5].mediaT: must be seconds from 0 to 86400"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := validLog()
			c.spoil(&l)
			err := l.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if ErrorCode(err) != EInvalid || ErrorMessage(err) != c.want {
				t.Errorf("Validate = %s %q; want %s %q", ErrorCode(err), ErrorMessage(err), EInvalid, c.want)
			}
			// Align refuses the same log with the same error.
			if _, aerr := Align(l, 10); ErrorMessage(aerr) != c.want {
				t.Errorf("Align = %v; want %q", aerr, c.want)
			}
		})
	}
}

func TestAlignRecordingDuration(t *testing.T) {
	for _, recS := range []float64{0, -1, math.NaN(), math.Inf(1), MaxViewingS + 1} {
		_, err := Align(validLog(), recS)
		if ErrorCode(err) != EInvalid || !strings.HasPrefix(ErrorMessage(err), "align: recording duration") {
			t.Errorf("Align(recordingS %v) = %v; want an invalid recording duration", recS, err)
		}
	}
}

// TestViewingLogJSON: the field names the participant page writes, and
// the alignment's as the API would show it.
func TestViewingLogJSON(t *testing.T) {
	in := `{"recorderStartT":0.25,"events":[
		{"t":0,"kind":"start","stimulus":"baseline","media":"image","mediaT":0},
		{"t":3,"kind":"end","stimulus":"baseline","mediaT":3},
		{"t":3.5,"kind":"blur","mediaT":0}]}`
	var got ViewingLog
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := ViewingLog{RecorderStartT: 0.25, Events: []ViewEvent{
		image(0, BaselineID), ev(3, ViewEnd, BaselineID, 3), ev(3.5, ViewBlur, "", 0),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	a, err := Align(got, 3.25)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"spans":[{"stimulus":"baseline","start":0,"end":2.75,"mediaT":0.25}]}`, string(b)); diff != "" {
		t.Errorf("alignment JSON (-want +got):\n%s", diff)
	}
}

func TestPlaceFrames(t *testing.T) {
	a := &Alignment{Spans: []ViewSpan{{BaselineID, 0, 0.5, 0}, {stA, 0.6, 1, 2}}}
	var frames []Frame
	for i := range 6 {
		frames = append(frames, Frame{T: Num(float64(i) * 0.2)})
	}
	want := []Placement{
		{Frame: 0, Stimulus: BaselineID, StimT: 0},
		{Frame: 1, Stimulus: BaselineID, StimT: 0.2},
		{Frame: 2, Stimulus: BaselineID, StimT: 0.4},
		// 0.6 on a float64 is 3 * 0.2, a hair above 0.6: placed.
		{Frame: 3, Stimulus: stA, StimT: 2},
		{Frame: 4, Stimulus: stA, StimT: 2.2},
	}
	if diff := cmp.Diff(want, a.PlaceFrames(frames), cmpopts.EquateApprox(0, approx)); diff != "" {
		t.Errorf("PlaceFrames (-want +got):\n%s", diff)
	}
	var none *Alignment
	if got := none.PlaceFrames(frames); got != nil {
		t.Errorf("nil alignment placed %v", got)
	}
}

// fuzzLog turns bytes into a log, four bytes an event, so that the fuzzer
// walks the aligner's states rather than JSON syntax. Some events are
// malformed on purpose (bad ids, time going back, a negative media time).
func fuzzLog(data []byte, offset float64) ViewingLog {
	kinds := []ViewKind{ViewStart, ViewEnd, ViewPlaying, ViewWaiting, ViewPause, ViewEnded, ViewBlur, ViewFocus}
	ids := []string{"", BaselineID, stA, stB, "st_bad"}
	media := []MediaKind{"", MediaVideo, MediaImage, MediaImage}
	l := ViewingLog{RecorderStartT: offset}
	t := 0.0
	for i := 0; i+3 < len(data); i += 4 {
		k := kinds[data[i]%8]
		e := ViewEvent{Kind: k, Stimulus: ids[data[i+1]%5], MediaT: float64(data[i+3]) / 16}
		if k == ViewStart {
			e.Media = media[data[i+1]>>4%4]
		}
		if data[i+2] == 255 {
			t -= 0.5
		} else {
			t += float64(data[i+2]) / 32
		}
		if data[i+3] == 255 {
			e.MediaT = -1
		}
		e.T = t
		l.Events = append(l.Events, e)
	}
	return l
}

// FuzzAlign: Align never panics and refuses only invalid input; its spans
// are ordered, disjoint and inside the recording; Place agrees with a scan
// of the spans, and never gives a negative stimulus time.
func FuzzAlign(f *testing.F) {
	f.Add([]byte{0, 0x11, 0, 0, 2, 1, 10, 0, 3, 1, 40, 3, 2, 1, 30, 3, 1, 1, 64, 0}, 10.0, 0.0)
	f.Add([]byte{0, 0x22, 0, 0, 6, 2, 32, 16, 7, 2, 32, 32, 1, 2, 32, 48, 0, 0x13, 1, 0}, 3.0, 1.5)
	f.Add([]byte{0, 0x13, 16, 0, 2, 3, 255, 0, 0, 0x12, 8, 8}, 1.0, -2.0)
	f.Fuzz(func(t *testing.T, data []byte, recS, offset float64) {
		l := fuzzLog(data, offset)
		a, err := Align(l, recS)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("Align: %v is not %s", err, EInvalid)
			}
			if l.Validate() == nil && recS > 0 && recS <= MaxViewingS {
				t.Fatalf("Align refused a valid log: %v", err)
			}
			return
		}
		probes := []float64{0, recS, math.Nextafter(recS, 0)}
		for i, s := range a.Spans {
			if !(0 <= s.Start && s.Start < s.End && s.End <= recS && s.MediaT >= 0) || s.Stimulus == "" {
				t.Fatalf("span %d %+v out of the recording (%v s)", i, s, recS)
			}
			if i > 0 && a.Spans[i-1].End > s.Start {
				t.Fatalf("spans %d and %d overlap or are out of order", i-1, i)
			}
			probes = append(probes, s.Start, s.End, (s.Start+s.End)/2, math.Nextafter(s.Start, -1), math.Nextafter(s.End, -1))
		}
		for _, e := range l.Events {
			probes = append(probes, e.T-offset)
		}
		for _, p := range probes {
			checkPlace(t, a, p)
		}
	})
}

// checkPlace compares Place(p) with a linear scan of the spans.
func checkPlace(t *testing.T, a *Alignment, p float64) {
	t.Helper()
	id, st, ok := a.Place(p)
	for _, s := range a.Spans {
		if s.Start <= p && p < s.End {
			if !ok || id != s.Stimulus || st != s.MediaT+(p-s.Start) || st < 0 {
				t.Fatalf("Place(%v) = %q, %v, %v; span %+v", p, id, st, ok, s)
			}
			return
		}
	}
	if ok {
		t.Fatalf("Place(%v) = %q, %v outside every span", p, id, st)
	}
}
