package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/humaninsight/facet/client"
)

// blockBlob is the header Blob Storage's Put Blob needs.
var blockBlob = map[string]string{"x-ms-blob-type": "BlockBlob"}

// study runs a small stimulus study through the API: a 3 s spot and a
// poster, made with ffmpeg, after a 1 s baseline; three participants
// (the sample video each time) whose viewing logs place their frames, the
// second with a 0.4 s stall in the spot; then the spot's results against
// the poster, saved in out.
func (d *demo) study(ctx context.Context, root, dir, out string, say func(string, ...any)) error {
	spot, poster := filepath.Join(dir, "spot.mp4"), filepath.Join(dir, "poster.png")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=3", "-pix_fmt", "yuv420p", "-c:v", "libx264", spot},
		{"-f", "lavfi", "-i", "testsrc=size=800x600", "-frames:v", "1", poster},
	} {
		if b, err := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("demo: ffmpeg: %v: %s", err, b)
		}
	}
	pr, err := d.api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Spot test",
		PrivacyMode: client.PrivacyModeRetain, UseContext: client.NewProjectUseContextMediaTesting})
	if err := check("POST /api/projects", http.StatusCreated, pr, err); err != nil {
		return err
	}
	pid := pr.JSON201.Id
	a, err := d.stimulus(ctx, pid, "Spot A (3 s)", client.NewStimulusKindVideo, spot, nil)
	if err != nil {
		return err
	}
	b, err := d.stimulus(ctx, pid, "Poster B", client.NewStimulusKindImage, poster, ptr(2.0))
	if err != nil {
		return err
	}
	say("stimulus study %s: %s and %s probed and ready (H.264 mp4, png); design: baseline 1 s, calibrated", pid, a, b)
	segs := []client.Segment{{Name: "opening", FromS: 0, ToS: 1.5}, {Name: "ending", FromS: 1.5, ToS: 3}}
	ps, err := d.api.PatchStimulusWithResponse(ctx, pid, a, client.StimulusPatch{Segments: &segs})
	if err := check("PATCH /api/projects/{id}/stimuli/{stimulusId}", http.StatusOK, ps, err); err != nil {
		return err
	}
	pp, err := d.api.PatchProjectWithResponse(ctx, pid, client.ProjectPatch{Design: &client.StudyDesign{
		Stimuli: []client.StimulusId{a, b}, BaselineS: ptr(1.0), Calibrate: ptr(true)}})
	if err := check("PATCH /api/projects/{id}", http.StatusOK, pp, err); err != nil {
		return err
	}
	video, err := os.ReadFile(filepath.Join(root, "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		rec, err := d.participant(ctx, pid, viewingLog(a, b, i == 1), video)
		if err != nil {
			return err
		}
		say("  participant %d: recording %s analysed, its frames placed on the baseline, %s and %s", i+1, rec, a, b)
	}
	res, err := d.api.GetStimulusResultsWithResponse(ctx, pid, a, &client.GetStimulusResultsParams{BinS: ptr(0.5), Compare: &b})
	if err := check("GET /api/projects/{id}/stimuli/{stimulusId}/results", http.StatusOK, res, err); err != nil {
		return err
	}
	p := filepath.Join(out, "stimulus-results.json")
	if err := os.WriteFile(p, res.Body, 0o644); err != nil {
		return err
	}
	r := res.JSON200
	var ns []string
	for _, bin := range r.Bins {
		ns = append(ns, fmt.Sprint(bin.N))
	}
	say("  results of %s by 0.5 s of the spot: %d participants, N per bin %s (participant 2's stall left out, the spot's time resumed after it); A/B against the poster: %s",
		a, r.Participants, strings.Join(ns, " "), r.Compare.Result.Method)
	say("  %s (%d bytes)", p, len(res.Body))
	resp, err := d.api.GetProjectReport(ctx, pid)
	p = filepath.Join(out, "study-report.html")
	n, err := save(resp, err, p)
	if err != nil {
		return fmt.Errorf("demo: GET /api/projects/{id}/report: %w", err)
	}
	say("  report: %s (%d bytes)", p, n)
	return nil
}

// stimulus adds a stimulus, uploads its file and waits until it is ready.
func (d *demo) stimulus(ctx context.Context, pid, name string, kind client.NewStimulusKind, file string, displayS *float64) (string, error) {
	cr, err := d.api.CreateStimulusWithResponse(ctx, pid, client.NewStimulus{Name: name, Kind: kind, DisplayS: displayS})
	if err := check("POST /api/projects/{id}/stimuli", http.StatusCreated, cr, err); err != nil {
		return "", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if err := putBlob(ctx, http.MethodPut, cr.JSON201.UploadUrl, blockBlob, data); err != nil {
		return "", err
	}
	id := cr.JSON201.Stimulus.Id
	for deadline := time.Now().Add(time.Minute); ; {
		g, err := d.api.GetStimulusWithResponse(ctx, pid, id)
		if err := check("GET /api/projects/{id}/stimuli/{stimulusId}", http.StatusOK, g, err); err != nil {
			return "", err
		}
		switch g.JSON200.Status {
		case client.StimulusStatusReady:
			return id, nil
		case client.StimulusStatusRefused:
			return "", fmt.Errorf("demo: stimulus %s refused: %s", name, g.JSON200.Refusal.Message)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("demo: stimulus %s: still %s after a minute", name, g.JSON200.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// participant consents through an invitation, PUTs the viewing log and
// then the video, as the participant page does, and waits for the run.
func (d *demo) participant(ctx context.Context, pid string, log []byte, video []byte) (string, error) {
	ir, err := d.api.CreateInvitationWithResponse(ctx, pid, client.NewInvitation{})
	if err := check("POST /api/projects/{id}/invitations", http.StatusCreated, ir, err); err != nil {
		return "", err
	}
	pub, err := d.public.GetInvitationWithResponse(ctx, ir.JSON201.Token)
	if err := check("GET /api/invitations/{token}", http.StatusOK, pub, err); err != nil {
		return "", err
	}
	cr, err := d.public.GiveConsentWithResponse(ctx, ir.JSON201.Token, client.ConsentInput{Accept: true, ConsentVersion: pub.JSON200.ConsentVersion})
	if err := check("POST /api/invitations/{token}/consent", http.StatusCreated, cr, err); err != nil {
		return "", err
	}
	slot := cr.JSON201
	if slot.ViewingLogUrl == nil {
		return "", fmt.Errorf("demo: a study's upload slot without a viewing log link")
	}
	if err := putBlob(ctx, http.MethodPut, *slot.ViewingLogUrl, blockBlob, log); err != nil {
		return "", err
	}
	if err := d.put(slot, video); err != nil {
		return "", err
	}
	if _, err := d.wait(slot.RecordingId, func(r *client.Recording) bool { return r.Status == client.RecordingStatusAnalyzed }); err != nil {
		return "", err
	}
	return slot.RecordingId, nil
}

// viewingLog is what the participant page would write for the 6 s sample
// video: the baseline 0-1 s, the spot 1-4 s, the poster 4-6 s; with a
// stall, the spot waits for 0.4 s at 1 s into it and ends 0.4 s later.
func viewingLog(a, b string, stall bool) []byte {
	type ev struct {
		T        float64 `json:"t"`
		Kind     string  `json:"kind"`
		Stimulus string  `json:"stimulus"`
		Media    string  `json:"media,omitempty"`
		MediaT   float64 `json:"mediaT"`
	}
	evs := []ev{{0, "start", "baseline", "image", 0}, {1, "end", "baseline", "", 1}, {1, "start", a, "video", 0}, {1, "playing", a, "", 0}}
	end := 4.0
	if stall {
		evs = append(evs, ev{2, "waiting", a, "", 1}, ev{2.4, "playing", a, "", 1})
		end = 4.4
	}
	evs = append(evs, ev{end, "ended", a, "", 3}, ev{end, "end", a, "", 3}, ev{end, "start", b, "image", 0}, ev{6, "end", b, "", 6 - end})
	out, _ := json.Marshal(map[string]any{"recorderStartT": 0, "events": evs})
	return out
}

// putBlob sends data through a signed link with the method and headers
// it asks for (a block blob for Blob Storage), expecting 201.
func putBlob(ctx context.Context, method, url string, header map[string]string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("demo: upload: %s", resp.Status)
	}
	return nil
}
