package app

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
)

// fakeMedia stands in for ffmpeg: it reads the staged file's first line
// as what to say ("video", "image" or a refusal's message).
type fakeMedia struct{ calls int }

func (f *fakeMedia) ProbeMedia(ctx context.Context, path string) (facet.StimulusMedia, error) {
	f.calls++
	data, err := os.ReadFile(path)
	if err != nil {
		return facet.StimulusMedia{}, err
	}
	switch first, _, _ := strings.Cut(string(data), "\n"); first {
	case "video":
		return facet.StimulusMedia{Container: "mp4", VideoCodec: "h264", AudioCodec: "aac", Width: 1280, Height: 720, DurationS: 30, ContentType: "video/mp4"}, nil
	case "image":
		return facet.StimulusMedia{Container: "png", Width: 800, Height: 600, ContentType: "image/png"}, nil
	default:
		return facet.StimulusMedia{}, facet.Errorf(facet.EUnprocessable, "%s", first)
	}
}

func (f *fakeMedia) Thumbnails(ctx context.Context, path string, m facet.StimulusMedia, n, width int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte{0xff, 0xd8, byte(i), 0xff, 0xd9}
	}
	return out, nil
}

// stimulus creates a stimulus, uploads data through its slot's blob name
// and delivers the event and the probe; it returns the stored stimulus.
func (e *testEnv) stimulus(c *facet.Client, p *facet.Project, kind facet.StimulusKind, data string) *facet.Stimulus {
	e.t.Helper()
	slot, err := e.app.CreateStimulus(e.ctx, c, p.ID, NewStimulus{Name: "Spot A", Kind: kind})
	e.must(err)
	if !strings.Contains(slot.UploadURL, facet.StimulusBlob(p.ID, slot.Stimulus.ID)) || slot.Method != "PUT" {
		e.t.Fatalf("slot %+v", slot)
	}
	name := facet.StimulusBlob(p.ID, slot.Stimulus.ID)
	info, err := e.blobs.Upload(e.ctx, name, strings.NewReader(data))
	e.must(err)
	out, err := e.app.BlobCreated(e.ctx, e.event(name, info))
	e.must(err)
	if out != Queued {
		e.t.Fatalf("BlobCreated of a stimulus: %s", out)
	}
	e.deliver(facet.QAnalysis, false)
	s, err := e.app.Stimulus(e.ctx, c, p.ID, slot.Stimulus.ID)
	e.must(err)
	return s
}

// TestStimulusLifecycle: an uploaded video is probed into a ready
// stimulus with its thumbnail strip; an image likewise with one frame; a
// file browsers cannot play, or of the wrong kind, is refused with the
// reason and deleted; another client sees none of it; deleting it
// removes file, thumbnails and record and leaves an audit entry.
func TestStimulusLifecycle(t *testing.T) {
	e := newTestEnv(t)
	media := &fakeMedia{}
	e.app.Media = media
	c := e.client("Stimulus Ltd")
	other := e.client("Other Ltd")
	p := e.project(c, facet.PrivacyRetain)

	v := e.stimulus(c, p, facet.StimVideo, "video\n")
	if v.Status != facet.StimReady || v.Media == nil || v.Media.DurationS != 30 || v.Thumbnails != facet.StimulusThumbnails || v.LengthS() != 30 {
		t.Fatalf("video stimulus %+v", v)
	}
	for i := 0; i < v.Thumbnails; i++ {
		if !e.blobExists(facet.StimulusThumbName(p.ID, v.ID, i)) {
			t.Errorf("thumbnail %d missing", i)
		}
	}
	img := e.stimulus(c, p, facet.StimImage, "image\n")
	if img.Status != facet.StimReady || img.Thumbnails != 1 || img.LengthS() != facet.DefaultImageS {
		t.Errorf("image stimulus %+v", img)
	}
	for _, bad := range []struct {
		kind facet.StimulusKind
		data string
		want string
	}{
		{facet.StimVideo, "not playable in browsers: HEVC video in mp4\n", "HEVC"},
		{facet.StimVideo, "image\n", "the stimulus is a video, the file is an image"},
		{facet.StimImage, "video\n", "the stimulus is a image, the file is a 30.0 s video"},
	} {
		s := e.stimulus(c, p, bad.kind, bad.data)
		if s.Status != facet.StimRefused || s.Refusal == nil || !strings.Contains(s.Refusal.Message, bad.want) || e.blobExists(facet.StimulusBlob(p.ID, s.ID)) {
			t.Errorf("%q: %+v (refusal %+v)", bad.data, s, s.Refusal)
		}
	}
	// A repeated event changes nothing and probes nothing again.
	calls := media.calls
	name := facet.StimulusBlob(p.ID, v.ID)
	info, _ := e.blobs.Stat(e.ctx, name)
	if out, err := e.app.BlobCreated(e.ctx, e.event(name, info)); err != nil || out != AlreadyDone || media.calls != calls {
		t.Errorf("repeated event: %s %v, %d probes", out, err, media.calls-calls)
	}
	if _, err := e.app.Stimulus(e.ctx, other, p.ID, v.ID); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("another client's read: %v", err)
	}
	if _, _, err := e.app.Stimuli(e.ctx, other, p.ID, 10, ""); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("another client's list: %v", err)
	}
	if err := e.app.DeleteStimulus(e.ctx, other, p.ID, v.ID); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("another client's delete: %v", err)
	}
	e.must(e.app.DeleteStimulus(e.ctx, c, p.ID, v.ID))
	if left := e.docsMentioning(v.ID); len(left) != 1 || !strings.HasPrefix(left[0], facet.CAudit) {
		t.Errorf("after deletion: %v, want the audit entry only", left)
	}
	var blobs []string
	e.blobs.List(e.ctx, facet.StimulusBlob(p.ID, v.ID), func(b facet.BlobInfo) error { blobs = append(blobs, b.Name); return nil })
	if len(blobs) != 0 {
		t.Errorf("blobs left: %v", blobs)
	}
	entries, _, err := e.app.Audit(e.ctx, c.ID, p.ID, 10, "")
	e.must(err)
	if len(entries) != 1 || entries[0].StimulusID != v.ID || entries[0].Reason != facet.ReasonStimulusRemoved {
		t.Errorf("audit %+v", entries)
	}
}

// TestStimulusRules: names, kinds, display times and segments are
// checked; a blob under the stimuli prefix that no stimulus awaits is
// deleted; stimuli go with their project (audited), and the sweep does
// not take a stimulus's file for an orphan.
func TestStimulusRules(t *testing.T) {
	e := newTestEnv(t)
	e.app.Media = &fakeMedia{}
	c := e.client("Rules Ltd")
	p := e.project(c, facet.PrivacyRetain)
	five, tiny := 5.0, 0.1
	for _, n := range []NewStimulus{
		{Name: "", Kind: facet.StimVideo},
		{Name: "x", Kind: "audio"},
		{Name: "x", Kind: facet.StimVideo, DisplayS: &five},
		{Name: "x", Kind: facet.StimImage, DisplayS: &tiny},
	} {
		if _, err := e.app.CreateStimulus(e.ctx, c, p.ID, n); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("%+v: %v, want invalid", n, err)
		}
	}
	v := e.stimulus(c, p, facet.StimVideo, "video\n")
	for _, segs := range [][]facet.Segment{
		{{Name: "", FromS: 0, ToS: 1}},
		{{Name: "reveal", FromS: 3, ToS: 2}},
		{{Name: "reveal", FromS: 25, ToS: 31}},
	} {
		if _, err := e.app.PatchStimulus(e.ctx, c, p.ID, v.ID, StimulusPatch{Segments: &segs}); err == nil {
			t.Errorf("segments %+v accepted", segs)
		}
	}
	segs := []facet.Segment{{Name: "brand reveal", FromS: 25, ToS: 30}}
	got, err := e.app.PatchStimulus(e.ctx, c, p.ID, v.ID, StimulusPatch{Segments: &segs})
	if err != nil || len(got.Segments) != 1 {
		t.Fatalf("segments: %+v %v", got, err)
	}
	// A file over the limit is refused on arrival, unread.
	e.app.cfg.MaxStimulusBytes = 8
	slot, err := e.app.CreateStimulus(e.ctx, c, p.ID, NewStimulus{Name: "Too big", Kind: facet.StimVideo})
	e.must(err)
	big := facet.StimulusBlob(p.ID, slot.Stimulus.ID)
	info, err := e.blobs.Upload(e.ctx, big, strings.NewReader("video\nand more than eight bytes"))
	e.must(err)
	if out, err := e.app.BlobCreated(e.ctx, e.event(big, info)); err != nil || out != Refused || e.blobExists(big) {
		t.Errorf("a file over the limit: %s %v", out, err)
	}
	if s, _ := e.app.Stimulus(e.ctx, c, p.ID, slot.Stimulus.ID); s.Status != facet.StimRefused || !strings.Contains(s.Refusal.Message, "larger than the limit (8 bytes)") {
		t.Errorf("refused stimulus %+v", s)
	}
	e.app.cfg.MaxStimulusBytes = facet.MaxStimulusBytes
	stray := facet.StimulusBlob(p.ID, "st_000000000000000000000001")
	info, err = e.blobs.Upload(e.ctx, stray, bytes.NewReader([]byte("x")))
	e.must(err)
	if out, err := e.app.BlobCreated(e.ctx, e.event(stray, info)); err != nil || out != Refused || e.blobExists(stray) {
		t.Errorf("stray stimulus blob: %s %v", out, err)
	}
	rec := e.uploaded(c, p) // a recording, so the sweep sees a sound store
	e.deliver(facet.QAnalysis, false)
	r, err := e.app.Sweep(e.ctx)
	e.must(err)
	if r.Orphans != 0 || !e.blobExists(facet.StimulusBlob(p.ID, v.ID)) {
		t.Errorf("sweep: %d orphans; stimulus file there: %v", r.Orphans, e.blobExists(facet.StimulusBlob(p.ID, v.ID)))
	}
	e.must(e.app.RemoveProject(e.ctx, c, p.ID))
	e.deliver(facet.QDeletions, false)
	if left := e.docsMentioning(v.ID); len(left) != 1 || !strings.HasPrefix(left[0], facet.CAudit) {
		t.Errorf("after the project's removal: %v", left)
	}
	if e.blobExists(facet.StimulusBlob(p.ID, v.ID)) || e.blobExists(facet.StimulusThumbName(p.ID, v.ID, 0)) {
		t.Error("the stimulus's files outlived the project")
	}
	_ = rec
}

// TestStimulusStudyRun: a project with a design gives each participant a
// sequence (baseline first) and a link for the page's viewing log; the
// run places every frame on what was on screen, hand-computed here from
// the log: a 0.4 s stall leaves its frames out and the video's time
// resumes from the log's mediaT, not from the clock.
func TestStimulusStudyRun(t *testing.T) {
	e := newTestEnv(t)
	e.app.Media = &fakeMedia{}
	c := e.client("Study Ltd")
	p := e.project(c, facet.PrivacyRetain)
	a := e.stimulus(c, p, facet.StimVideo, "video\n")
	b := e.stimulus(c, p, facet.StimImage, "image\n")
	design := facet.StudyDesign{Stimuli: []string{a.ID, b.ID}, BaselineS: 1}
	if _, err := e.app.PatchProject(e.ctx, c, p.ID, ProjectPatch{Design: &design}); err != nil {
		t.Fatal(err)
	}
	bad := facet.StudyDesign{Stimuli: []string{a.ID, a.ID}}
	if _, err := e.app.PatchProject(e.ctx, c, p.ID, ProjectPatch{Design: &bad}); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("a stimulus named twice: %v", err)
	}
	p, _ = e.app.Project(e.ctx, c, p.ID)
	_, token, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})
	e.must(err)
	pub, err := e.app.Invitation(e.ctx, token)
	e.must(err)
	yes := true
	slot, err := e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
	e.must(err)
	if strings.Join(slot.Sequence, ",") != facet.BaselineID+","+a.ID+","+b.ID || !strings.Contains(slot.ViewingLogURL, slot.RecordingID+facet.ViewingLogSuffix) {
		t.Fatalf("slot %+v", slot)
	}
	if len(slot.Stimuli) != 2 || slot.Stimuli[0].ID != a.ID || slot.Stimuli[0].ContentType != "video/mp4" || slot.Stimuli[1].DisplayS != facet.DefaultImageS ||
		!strings.Contains(slot.Stimuli[0].URL, facet.StimulusBlob(p.ID, a.ID)) || slot.BaselineS != 1 {
		t.Errorf("the sequence's stimuli: %+v, baseline %g", slot.Stimuli, slot.BaselineS)
	}
	log := `{"recorderStartT": 0, "events": [
		{"t": 0, "kind": "start", "stimulus": "baseline", "media": "image", "mediaT": 0},
		{"t": 1, "kind": "end", "stimulus": "baseline", "mediaT": 1},
		{"t": 1, "kind": "start", "stimulus": "` + a.ID + `", "media": "video", "mediaT": 0},
		{"t": 1, "kind": "playing", "stimulus": "` + a.ID + `", "mediaT": 0},
		{"t": 2, "kind": "waiting", "stimulus": "` + a.ID + `", "mediaT": 1.0},
		{"t": 2.4, "kind": "playing", "stimulus": "` + a.ID + `", "mediaT": 1.0},
		{"t": 3, "kind": "end", "stimulus": "` + a.ID + `", "mediaT": 1.6},
		{"t": 3, "kind": "start", "stimulus": "` + b.ID + `", "media": "image", "mediaT": 0},
		{"t": 4, "kind": "end", "stimulus": "` + b.ID + `", "mediaT": 1}]}`
	name := p.ID + "/" + slot.RecordingID
	info := e.put(p.ID, slot.RecordingID+facet.ViewingLogSuffix, []byte(log))
	if out, err := e.app.BlobCreated(e.ctx, e.event(name+facet.ViewingLogSuffix, info)); err != nil || out != Ignored {
		t.Fatalf("the viewing log's event: %s %v", out, err)
	}
	video := e.put(p.ID, slot.RecordingID, []byte("video bytes"))
	out, err := e.app.BlobCreated(e.ctx, e.event(name, video))
	if err != nil || out != Queued {
		t.Fatalf("the video's event: %s %v", out, err)
	}
	e.deliver(facet.QAnalysis, false)
	rec := e.recording(p.ID, slot.RecordingID)
	run := e.run(rec.ID, rec.LatestAnalysis)
	var got []string
	e.must(e.app.Frames(e.ctx, run, func(fs []facet.Frame) error {
		for _, f := range fs {
			place := "-"
			if f.StimulusT != nil {
				place = map[string]string{facet.BaselineID: "base", a.ID: "A", b.ID: "B"}[f.Stimulus] + "@" + facet.FormatFloat(float64(*f.StimulusT), 1)
			}
			got = append(got, place)
		}
		return nil
	}))
	// Frames every 0.2 s from 0 to 3.8 s (the fake analyser's 20 at 5 fps).
	want := "base@0 base@0.2 base@0.4 base@0.6 base@0.8 A@0 A@0.2 A@0.4 A@0.6 A@0.8 - - A@1 A@1.2 A@1.4 B@0 B@0.2 B@0.4 B@0.6 B@0.8"
	if strings.Join(got, " ") != want {
		t.Errorf("placements\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// The log goes with the video.
	e.must(e.app.RemoveRecording(e.ctx, c, rec.ID))
	e.deliver(facet.QDeletions, false)
	if e.blobExists(name + facet.ViewingLogSuffix) {
		t.Error("the viewing log outlived its recording")
	}
}

// studyParticipant walks one participant of a study through consent,
// the viewing log and the upload, and runs the analysis.
func (e *testEnv) studyParticipant(c *facet.Client, p *facet.Project, log string) string {
	e.t.Helper()
	_, token, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})
	e.must(err)
	pub, err := e.app.Invitation(e.ctx, token)
	e.must(err)
	yes := true
	slot, err := e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
	e.must(err)
	e.put(p.ID, slot.RecordingID+facet.ViewingLogSuffix, []byte(log))
	video := e.put(p.ID, slot.RecordingID, []byte("video bytes"))
	_, err = e.app.BlobCreated(e.ctx, e.event(p.ID+"/"+slot.RecordingID, video))
	e.must(err)
	e.deliver(facet.QAnalysis, false)
	return slot.RecordingID
}

// TestStimulusResults: two participants who watched A then B; the fake
// analyser's frames (every 0.2 s, a neutral face) give, hand-counted:
// A's first 0.5 s bin holds frames at 0, 0.2, 0.4 of each, N 2, neutral
// 1 with a zero-width band; a bin no frame reached has N 0; the segment
// over A's first second has both; A against B is paired (the same
// people) with no difference.
func TestStimulusResults(t *testing.T) {
	e := newTestEnv(t)
	e.app.Media = &fakeMedia{}
	c := e.client("Results Ltd")
	p := e.project(c, facet.PrivacyRetain)
	a := e.stimulus(c, p, facet.StimVideo, "video\n")
	b := e.stimulus(c, p, facet.StimImage, "image\n")
	segs := []facet.Segment{{Name: "opening", FromS: 0, ToS: 1}}
	_, err := e.app.PatchStimulus(e.ctx, c, p.ID, a.ID, StimulusPatch{Segments: &segs})
	e.must(err)
	_, err = e.app.PatchProject(e.ctx, c, p.ID, ProjectPatch{Design: &facet.StudyDesign{Stimuli: []string{a.ID, b.ID}}})
	e.must(err)
	p, _ = e.app.Project(e.ctx, c, p.ID)
	log := `{"recorderStartT": 0, "events": [
		{"t": 0, "kind": "start", "stimulus": "` + a.ID + `", "media": "video", "mediaT": 0},
		{"t": 0, "kind": "playing", "stimulus": "` + a.ID + `", "mediaT": 0},
		{"t": 2, "kind": "end", "stimulus": "` + a.ID + `", "mediaT": 2},
		{"t": 2, "kind": "start", "stimulus": "` + b.ID + `", "media": "image", "mediaT": 0},
		{"t": 4, "kind": "end", "stimulus": "` + b.ID + `", "mediaT": 2}]}`
	e.studyParticipant(c, p, log)
	e.studyParticipant(c, p, log)
	other := e.client("Other Ltd")
	if _, err := e.app.StimulusResults(e.ctx, other, p.ID, a.ID, 0, ""); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("another client's results: %v", err)
	}
	r, err := e.app.StimulusResults(e.ctx, c, p.ID, a.ID, 0.5, b.ID)
	e.must(err)
	if r.Participants != 2 || len(r.Bins) != 60 || r.LengthS != 30 {
		t.Fatalf("results: %d participants, %d bins over %g s", r.Participants, len(r.Bins), r.LengthS)
	}
	first := r.Bins[0]
	neutral := first.Emotions[facet.EmotionIndex("neutral")]
	if first.N != 2 || neutral.Mean == nil || *neutral.Mean != 1 || *neutral.Lower != 1 || *neutral.Upper != 1 {
		t.Errorf("first bin: N %d, neutral %+v", first.N, neutral)
	}
	if r.Bins[4].N != 0 || r.Bins[4].Emotions[facet.EmotionIndex("neutral")].Mean != nil {
		t.Errorf("bin 2.0-2.5 s, after A ended: N %d", r.Bins[4].N)
	}
	if len(r.Segments) != 1 || r.Segments[0].N != 2 {
		t.Errorf("segments %+v", r.Segments)
	}
	if r.Compare == nil || r.Compare.Result.Method != "paired" || r.Compare.Participants != 2 {
		t.Fatalf("comparison %+v", r.Compare)
	}
	if d := r.Compare.Result.Whole.Emotions[facet.EmotionIndex("neutral")]; d.Diff == nil || *d.Diff != 0 {
		t.Errorf("A minus B, neutral: %+v", d)
	}
	if _, err := e.app.StimulusResults(e.ctx, c, p.ID, a.ID, 0.01, ""); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("binS 0.01: %v", err)
	}
}

// TestStimulusResultsCalibrated: with a baseline and calibrate on, the
// results carry baseline-corrected figures beside the raw ones: the fake
// analyser's face is neutral throughout, so raw neutral is 1 and the
// corrected one 0 (no change from the resting face).
func TestStimulusResultsCalibrated(t *testing.T) {
	e := newTestEnv(t)
	e.app.Media = &fakeMedia{}
	c := e.client("Calibrated Ltd")
	p := e.project(c, facet.PrivacyRetain)
	a := e.stimulus(c, p, facet.StimVideo, "video\n")
	if _, err := e.app.PatchProject(e.ctx, c, p.ID, ProjectPatch{Design: &facet.StudyDesign{Stimuli: []string{a.ID}, Calibrate: true}}); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("calibrate without a baseline: %v", err)
	}
	_, err := e.app.PatchProject(e.ctx, c, p.ID, ProjectPatch{Design: &facet.StudyDesign{Stimuli: []string{a.ID}, BaselineS: 1, Calibrate: true}})
	e.must(err)
	p, _ = e.app.Project(e.ctx, c, p.ID)
	log := `{"recorderStartT": 0, "events": [
		{"t": 0, "kind": "start", "stimulus": "baseline", "media": "image", "mediaT": 0},
		{"t": 1, "kind": "end", "stimulus": "baseline", "mediaT": 1},
		{"t": 1, "kind": "start", "stimulus": "` + a.ID + `", "media": "video", "mediaT": 0},
		{"t": 1, "kind": "playing", "stimulus": "` + a.ID + `", "mediaT": 0},
		{"t": 4, "kind": "end", "stimulus": "` + a.ID + `", "mediaT": 3}]}`
	e.studyParticipant(c, p, log)
	e.studyParticipant(c, p, log)
	r, err := e.app.StimulusResults(e.ctx, c, p.ID, a.ID, 0.5, "")
	e.must(err)
	ni := facet.EmotionIndex("neutral")
	if r.Calibrated == nil || r.Calibrated.Participants != 2 {
		t.Fatalf("calibrated %+v", r.Calibrated)
	}
	raw, cal := r.Bins[0].Emotions[ni].Mean, r.Calibrated.Bins[0].Emotions[ni].Mean
	if raw == nil || *raw != 1 || cal == nil || *cal != 0 {
		t.Errorf("first bin neutral: raw %v, corrected %v; want 1 and 0", raw, cal)
	}
}
