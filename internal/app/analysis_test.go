package app

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// flakyStore fails the operations fail picks (nil lets them through).
type flakyStore struct {
	facet.DocStore
	mu   sync.Mutex
	fail func(op, container string, doc []byte) error
}

func (s *flakyStore) check(op, container string, doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		return nil
	}
	return s.fail(op, container, doc)
}

func (s *flakyStore) Replace(ctx context.Context, c, pk string, doc []byte, ifMatch string) (string, error) {
	if err := s.check("replace", c, doc); err != nil {
		return "", err
	}
	return s.DocStore.Replace(ctx, c, pk, doc, ifMatch)
}

func (s *flakyStore) Read(ctx context.Context, c, pk, id string) (facet.Doc, error) {
	if err := s.check("read", c, nil); err != nil {
		return facet.Doc{}, err
	}
	return s.DocStore.Read(ctx, c, pk, id)
}

// A run whose video has vanished ends failed with code gone, and the
// recording says the video is absent; it no longer blocks deleting the run.
func TestRunEndsGoneWhenVideoVanished(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.uploaded(c, p)
	e.must(e.blobs.Delete(e.ctx, p.ID+"/"+rec)) // gone before the run starts
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 1 || outs[0] != FailedVideo {
		t.Fatalf("outcomes %v, want [%s]", outs, FailedVideo)
	}
	r := e.recording(p.ID, rec)
	if r.Status != facet.RecFailed || r.Failure == nil || r.Failure.Code != facet.EGone || r.Video.Present {
		t.Fatalf("recording: status %s, failure %+v, video present %v; want failed, gone, absent", r.Status, r.Failure, r.Video.Present)
	}
	an := e.run(rec, r.LatestAnalysis)
	if an.Status != facet.RunFailed || an.Failure.Code != facet.EGone {
		t.Fatalf("run: %s %+v", an.Status, an.Failure)
	}
	e.must(e.app.DeleteAnalysis(e.ctx, c, rec, an.ID))
}

// A re-analysis after the blob was removed behind the app's back ends
// failed/gone too, instead of being retried until dead-lettered.
func TestReanalysisOfRemovedBlobEndsGone(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.uploaded(c, p)
	e.deliver(facet.QAnalysis, false)
	e.must(e.blobs.Delete(e.ctx, p.ID+"/"+rec))
	an, err := e.app.Reanalyze(e.ctx, c, rec, AnalysisSettings{})
	e.must(err)
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 1 || outs[0] != FailedVideo {
		t.Fatalf("outcomes %v", outs)
	}
	if got := e.run(rec, an.ID); got.Status != facet.RunFailed || got.Failure.Code != facet.EGone {
		t.Fatalf("run %s %+v", got.Status, got.Failure)
	}
	if r := e.recording(p.ID, rec); r.Video.Present || r.Status != facet.RecFailed {
		t.Fatalf("recording %s, present %v", r.Status, r.Video.Present)
	}
}

// A BlobCreated event for a slot whose upload never happened (forged, or
// for a blob deleted since) changes nothing: the slot stays open.
func TestEventWithoutBlobIgnored(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.slot(c, p)
	out, err := e.app.BlobCreated(e.ctx, e.event(p.ID+"/"+rec, facet.BlobInfo{ETag: `"0x8DEADBEEF"`, Size: 1000}))
	e.must(err)
	if out != Ignored {
		t.Fatalf("outcome %s, want %s", out, Ignored)
	}
	if r := e.recording(p.ID, rec); r.Status != facet.RecAwaitingUpload || r.Video.Present {
		t.Fatalf("recording %s present %v", r.Status, r.Video.Present)
	}
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 0 {
		t.Fatalf("queued runs: %v", outs)
	}
}

// An event whose ETag is not the stored blob's (forged early, or stale)
// is judged by the blob as it is: the run analyses the real upload and a
// later event for it changes nothing, and the real video is never deleted.
func TestEventWithWrongETagUsesTheBlob(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.slot(c, p)
	name := p.ID + "/" + rec
	info := e.put(p.ID, rec, []byte("the real upload"))
	forged := e.event(name, facet.BlobInfo{ETag: `"0x8FORGED"`, Size: 10})
	if out, err := e.app.BlobCreated(e.ctx, forged); err != nil || out != Queued {
		t.Fatalf("forged event: %s %v", out, err)
	}
	if out, err := e.app.BlobCreated(e.ctx, e.event(name, info)); err != nil || out != AlreadyDone {
		t.Fatalf("real event: %s %v, want %s", out, err, AlreadyDone)
	}
	if _, err := e.blobs.Stat(e.ctx, name); err != nil {
		t.Fatalf("the real video was deleted: %v", err)
	}
	r := e.recording(p.ID, rec)
	if strings.Trim(r.Video.ETag, `"`) != strings.Trim(info.ETag, `"`) || r.Video.SizeBytes != info.Size {
		t.Fatalf("recorded video %+v, want the blob's %s/%d", r.Video, info.ETag, info.Size)
	}
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 1 || outs[0] != Analyzed {
		t.Fatalf("outcomes %v", outs)
	}
}

// typedBlobs reports the blobs named in pages as page blobs, as a PUT
// with x-ms-blob-type: PageBlob through a create link makes them.
type typedBlobs struct {
	facet.BlobStore
	pages map[string]bool
}

func (b *typedBlobs) Stat(ctx context.Context, name string) (facet.BlobInfo, error) {
	info, err := b.BlobStore.Stat(ctx, name)
	if b.pages[name] {
		info.Type = "PageBlob"
	}
	return info, err
}

func (b *typedBlobs) Download(ctx context.Context, name string, w io.Writer, o facet.DownloadOptions) error {
	panic("downloaded " + name)
}

// Only block blobs within the project's limit are read at all: a page
// blob or an oversized blob is refused and deleted from its event, before
// any download.
func TestEventRefusesPageAndOversizedBlobs(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	tb := &typedBlobs{BlobStore: e.blobs, pages: map[string]bool{}}
	e.app.Blobs = tb
	for _, tc := range []struct {
		name string
		info func(rec string) facet.BlobInfo
	}{
		{"page blob", func(rec string) facet.BlobInfo {
			info := e.put(p.ID, rec, []byte("x"))
			tb.pages[p.ID+"/"+rec] = true
			return info
		}},
		{"oversized", func(rec string) facet.BlobInfo {
			return e.put(p.ID, rec, make([]byte, p.Settings.MaxUploadBytes+1))
		}},
	} {
		rec := e.slot(c, p)
		info := tc.info(rec)
		out, err := e.app.BlobCreated(e.ctx, e.event(p.ID+"/"+rec, info))
		if err != nil || out != Refused {
			t.Errorf("%s: %s %v, want %s", tc.name, out, err, Refused)
		}
		if _, err := e.blobs.Stat(e.ctx, p.ID+"/"+rec); !isCode(err, facet.ENotFound) {
			t.Errorf("%s: blob kept (%v)", tc.name, err)
		}
	}
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 0 {
		t.Fatalf("runs queued: %v", outs)
	}
}

// The write that ends a run is lost (the recording replace fails once):
// the redelivery finds the run done and brings the recording in line.
func TestRedeliveryRepairsRecording(t *testing.T) {
	e := newTestEnv(t)
	fs := &flakyStore{DocStore: e.store}
	e.app.Store = fs
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.uploaded(c, p)
	failed := false
	fs.fail = func(op, container string, doc []byte) error {
		if op == "replace" && container == facet.CRecordings && strings.Contains(string(doc), `"status":"analyzed"`) && !failed {
			failed = true
			return facet.Errorf(facet.EConflict, "412 precondition failed")
		}
		return nil
	}
	if outs := e.deliver(facet.QAnalysis, true); len(outs) != 1 || outs[0] != AlreadyDone {
		t.Fatalf("outcomes %v, want the redelivery's %s", outs, AlreadyDone)
	}
	if !failed {
		t.Fatal("the final write was never attempted")
	}
	if r := e.recording(p.ID, rec); r.Status != facet.RecAnalyzed {
		t.Fatalf("recording %s beside a finished run, want %s", r.Status, facet.RecAnalyzed)
	}
}

// Whatever deletion path removes a recording while its analysis runs, no
// document of that recording's analyses remains, also after the run
// finishes: the whole store is listed afterwards.
func TestDeletionDuringRunLeavesNoAnalysisData(t *testing.T) {
	for _, path := range []string{"recording", "project", "client"} {
		t.Run(path, func(t *testing.T) {
			e := newTestEnv(t)
			e.an.Frames, e.an.HoldAt = 40, 12
			e.an.Hold, e.an.Reached = make(chan struct{}), make(chan struct{})
			c := e.client("Acme Research")
			p := e.project(c, facet.PrivacyRetain)
			rec := e.uploaded(c, p)
			ds, err := e.queue.Receive(e.ctx, facet.QAnalysis, 1, time.Second)
			e.must(err)
			done := make(chan Outcome)
			go func() {
				out, err := e.app.RunAnalysis(e.ctx, ds[0].Body)
				if err != nil {
					t.Error(err)
				}
				done <- out
			}()
			<-e.an.Reached // chunks of frames 0..11 are stored
			switch path {
			case "recording":
				e.must(e.app.RemoveRecording(e.ctx, c, rec))
			case "project":
				e.must(e.app.RemoveProject(e.ctx, c, p.ID))
			case "client":
				_, err := e.app.EraseClient(e.ctx, c.ID, TriggerAPI, nil)
				e.must(err)
			}
			e.deliver(facet.QDeletions, false)
			close(e.an.Hold)
			if out := <-done; out != Ignored {
				t.Errorf("run outcome %s, want %s", out, Ignored)
			}
			e.deliver(facet.QDeletions, false)
			for _, d := range e.docsMentioning(rec) {
				if !strings.HasPrefix(d, "audit/") && d != "recordings/"+rec+" (removed)" {
					t.Errorf("left behind: %s", d)
				}
			}
		})
	}
}

// Chunks written after a deletion by an attempt that then died are
// removed when the message comes again and finds no run.
func TestRedeliveryRemovesChunksOfDeletedRun(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.uploaded(c, p)
	ds, err := e.queue.Receive(e.ctx, facet.QAnalysis, 1, time.Second)
	e.must(err)
	var job AnalysisJob
	e.must(json.Unmarshal(ds[0].Body, &job))
	e.must(e.app.RemoveRecording(e.ctx, c, rec))
	e.deliver(facet.QDeletions, false)
	stray := facet.TimelineChunk{ID: chunkID(job.AnalysisID, 3), Type: "timeline", RecordingID: rec, AnalysisID: job.AnalysisID, Index: 3}
	e.must(upsert(e.ctx, e.store, facet.CAnalyses, rec, stray))
	if out, err := e.app.RunAnalysis(e.ctx, ds[0].Body); err != nil || out != Ignored {
		t.Fatalf("%s %v", out, err)
	}
	if left := e.docsMentioning(job.AnalysisID); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// schedQueue records what is scheduled.
type schedQueue struct {
	facet.Queue
	mu  sync.Mutex
	got []scheduled
}

type scheduled struct {
	queue string
	msg   facet.Message
	at    time.Time
}

func (q *schedQueue) Schedule(ctx context.Context, queue string, m facet.Message, at time.Time) (int64, error) {
	q.mu.Lock()
	q.got = append(q.got, scheduled{queue, m, at})
	q.mu.Unlock()
	return q.Queue.Schedule(ctx, queue, m, at)
}

// A transient failure is retried after 5 s, 10 s, 20 s ... at most 5 min
// apart, by a scheduled copy that counts its attempts; after the 8th
// attempt (about 10 minutes of failing) the message is given up. A wait
// for a client's limit does not use an attempt.
func TestRetryBacksOff(t *testing.T) {
	e := newTestEnv(t)
	q := &schedQueue{Queue: e.queue}
	e.app.Queue = q
	e.app.Now = func() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) } // not the queue's clock
	body := []byte(`{"recordingId":"rec_000000000000000000000001","projectId":"pr_000000000000000000000001","analysisId":"an_000000000000000000000001"}`)
	cause := facet.Errorf(facet.EUnavailable, "store down")
	var delays []time.Duration
	for {
		d, ok, err := e.app.Retry(e.ctx, facet.QAnalysis, "an_000000000000000000000001", body, cause)
		e.must(err)
		if !ok {
			break
		}
		delays = append(delays, d)
		last := q.got[len(q.got)-1]
		if wait := time.Until(last.at); last.msg.ID != "an_000000000000000000000001" || wait > d || wait < d-time.Minute {
			t.Fatalf("scheduled %+v", last)
		}
		var job AnalysisJob
		if err := json.Unmarshal(last.msg.Body, &job); err != nil || job.AnalysisID != "an_000000000000000000000001" {
			t.Fatalf("the copy lost the job: %s", last.msg.Body)
		}
		body = last.msg.Body
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second}
	if len(delays) != len(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	var total time.Duration
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
		total += delays[i]
	}
	if total < 5*time.Minute {
		t.Fatalf("given up after %s: should take minutes", total)
	}
	// A client's limit: the wait it names, and no attempt used.
	d, ok, err := e.app.Retry(e.ctx, facet.QAnalysis, "x", []byte(`{"attempt":8}`), facet.Throttled(42*time.Second, "at the limit"))
	if err != nil || !ok || d != 42*time.Second {
		t.Fatalf("throttled: %s %v %v", d, ok, err)
	}
	if b := string(q.got[len(q.got)-1].msg.Body); !strings.Contains(b, `"attempt":8`) || !strings.Contains(b, `"deferred":1`) {
		t.Fatalf("throttled copy %s", b)
	}
	// Not a JSON object: nothing to carry the count in; give up.
	if _, ok, _ := e.app.Retry(e.ctx, facet.QAnalysis, "x", []byte(`[1]`), cause); ok {
		t.Fatal("retried a non-object")
	}
}

// A read link forces a video type and an attachment, whatever the
// uploader declared (text/html would otherwise run in the reader).
func TestVideoLinkForcesTypeAndAttachment(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.uploaded(c, p)
	e.deliver(facet.QAnalysis, false)
	link, err := e.app.VideoURL(e.ctx, c, rec)
	e.must(err)
	u, err := url.Parse(link.URL)
	e.must(err)
	if got := u.Query().Get("rsct"); got != "video/mp4" {
		t.Errorf("content type %q, want video/mp4 (the fake's codec is h264)", got)
	}
	if got := u.Query().Get("rscd"); got != `attachment; filename="`+rec+`.mp4"` {
		t.Errorf("disposition %q", got)
	}
}

// A delivery that overtakes its upload's write is retried after a second,
// not after the back-off's first 5 s: nearly every first run meets it.
func TestOvertakingRunRetriedSoon(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.slot(c, p)
	an := &facet.Analysis{ID: "an_000000000000000000000009", Type: "analysis", RecordingID: rec, ProjectID: p.ID, ClientID: c.ID, Status: facet.RunQueued}
	_, err := create(e.ctx, e.store, facet.CAnalyses, rec, an)
	e.must(err)
	body := []byte(`{"recordingId":"` + rec + `","projectId":"` + p.ID + `","analysisId":"` + an.ID + `"}`)
	_, err = e.app.RunAnalysis(e.ctx, body)
	if facet.ErrorCode(err) != facet.EUnavailable {
		t.Fatalf("%v, want unavailable", err)
	}
	if d, ok, rerr := e.app.Retry(e.ctx, facet.QAnalysis, an.ID, body, err); rerr != nil || !ok || d != time.Second {
		t.Fatalf("retry in %s (%v %v), want 1s", d, ok, rerr)
	}
}
