package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/humaninsight/facet"
)

// Options configure Run.
type Options struct {
	Width, Height int // size of the frames the source yields
	// Workers is how many frames are analysed at once; 0 means one per core.
	// The decoder runs beside them in its own process.
	Workers int
	// MaxFaces caps the faces described per frame, largest first; 0 means 8.
	MaxFaces int
	// SmoothS is the width in seconds of the centred window over which each
	// face track's emotions are smoothed (see Smoother); 0 keeps the raw
	// per-frame scores. Stills must be run with 0.
	SmoothS float64
	// OnFrame receives every frame in presentation order, from the
	// goroutine that called Run. An error stops the analysis.
	OnFrame func(facet.Frame) error
	// Tracking, when set, detects less (see Tracking); nil detects and
	// describes every frame.
	Tracking *Tracking
	// Slots, when set, is shared by runs that must not oversubscribe the
	// cores together: a worker holds one of its cap(Slots) places (a send)
	// while it analyses a frame, so runs sharing it analyse at most
	// cap(Slots) frames at once however many workers each has.
	Slots chan struct{}
}

type job struct {
	idx     int
	t       float64
	buf     []byte
	faces   []Detection
	quality []facet.FaceQuality // one per face
	flags   [][]string          // one per face: nil for faces described
	attrs   []Attributes        // one per face described, in order
	err     error
}

// Run analyses every frame of src and returns the summary (WallS unset).
// Memory is bounded by Workers+2 frame buffers (Workers*Tracking.Every+2
// with tracking) whatever the video's length:
// a buffer returns to the decoder only once its frame has been emitted in
// order, so out-of-order results can never pile up. Smoothing adds the
// face records (not the pictures) of the frames inside its window. Faces
// too small or too dark to judge (FaceFlags) are measured and flagged but
// never shown to Describe.
func Run(ctx context.Context, src FrameSource, m Models, o Options) (facet.Summary, error) {
	if o.Width <= 0 || o.Height <= 0 {
		return facet.Summary{}, fmt.Errorf("analysis: bad frame size %dx%d", o.Width, o.Height)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	maxFaces := o.MaxFaces
	if maxFaces <= 0 {
		maxFaces = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Frames go to the workers in segments: runs of consecutive frames
	// that one worker analyses in order, so that it can follow faces from
	// one to the next. Without tracking a segment is one frame.
	seg := 1
	if o.Tracking != nil {
		seg = max(1, o.Tracking.Every)
	}
	nbuf := workers*seg + 2
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, o.Width*o.Height*3)
	}
	segs := make(chan chan *job)
	done := make(chan *job, nbuf)

	dec := &decoder{src: src, seg: seg}
	go dec.run(ctx, free, segs)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(ctx, segs, done, m, o, maxFaces)
		}()
	}
	go func() { wg.Wait(); close(done) }()

	// The smoother's output is the pipeline's: what the summary counts is
	// what OnFrame receives.
	var sum Summarizer
	sm := NewSmoother(o.SmoothS, func(f facet.Frame) error {
		sum.Add(f)
		if o.OnFrame != nil {
			return o.OnFrame(f)
		}
		return nil
	})
	runErr := inOrder(done, free, sm, cancel, nbuf)
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr == nil && dec.err != nil {
		// done is closed, so the decoder has returned: its fields are set.
		runErr = fmt.Errorf("analysis: decode frame %d: %w", dec.decoded, dec.err)
	}
	if runErr == nil {
		runErr = sm.Flush()
	}
	if runErr != nil {
		return facet.Summary{}, runErr
	}
	return sum.Summary(), nil
}

// work analyses the frames of each segment from segs in order, following
// faces within a segment when o.Tracking is set, and hands every frame on
// to done, analysed or (once ctx is done) not.
func work(ctx context.Context, segs <-chan chan *job, done chan<- *job, m Models, o Options, maxFaces int) {
	var fl *follower
	if o.Tracking != nil {
		fl = &follower{t: *o.Tracking}
	}
	for frames := range segs {
		if fl != nil {
			fl.restart()
		}
		for j := range frames {
			if hold(ctx, o.Slots) {
				img := Image{W: o.Width, H: o.Height, Pix: j.buf}
				if fl != nil {
					fl.analyse(j, img, m, maxFaces)
				} else {
					analyse(j, img, m, maxFaces)
				}
				release(o.Slots)
			}
			done <- j
		}
	}
}

// hold takes a place in slots (nil: no limit) and reports whether the run
// goes on; a run cancelled while it waits takes none.
func hold(ctx context.Context, slots chan struct{}) bool {
	if slots == nil {
		return ctx.Err() == nil
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		<-slots
		return false
	}
	return true
}

// release gives back the place hold took.
func release(slots chan struct{}) {
	if slots != nil {
		<-slots
	}
}

// inOrder takes finished jobs as they come, hands their frames to sm in
// frame order, and returns each buffer to free once its frame is through.
// On the first error it cancels the run and drains done, so that every
// goroutine can finish.
func inOrder(done <-chan *job, free chan<- []byte, sm *Smoother, cancel func(), nbuf int) error {
	var (
		tracker = NewTracker()
		pending = make(map[int]*job, nbuf)
		next    int
		runErr  error
	)
	for j := range done {
		if runErr != nil {
			continue
		}
		pending[j.idx] = j
		for pj := pending[next]; pj != nil; pj = pending[next] {
			delete(pending, next)
			next++
			f, err := emit(pj, tracker)
			if err == nil {
				err = sm.Add(f)
			}
			if runErr = err; runErr != nil {
				cancel()
				break
			}
			free <- pj.buf
		}
	}
	return runErr
}

// decoder reads frames into free buffers and hands them out as jobs, in
// order and in segments of seg frames, until the source ends, fails or
// ctx is done. A segment is a channel that gets its frames as they are
// decoded; it goes to segs when its first frame is read. The decoder
// closes every segment and segs when it returns. err (nil at the end of
// the video) and decoded are for reading after segs is closed and drained.
type decoder struct {
	src     FrameSource
	seg     int
	err     error
	decoded int // frames read before the end or the error
}

func (d *decoder) run(ctx context.Context, free <-chan []byte, segs chan<- chan *job) {
	defer close(segs)
	var cur chan *job
	defer func() {
		if cur != nil {
			close(cur)
		}
	}()
	for idx := 0; ; idx++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return
		}
		t, err := d.src.ReadFrame(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				d.err = err
			}
			d.decoded = idx
			return
		}
		if idx%d.seg == 0 {
			if cur != nil {
				close(cur)
			}
			cur = make(chan *job, d.seg)
			select {
			case segs <- cur:
			case <-ctx.Done():
				cur = nil // no worker has it: nobody waits on it
				return
			}
		}
		cur <- &job{idx: idx, t: t, buf: buf}
	}
}

// analyse detects the faces of one frame, measures each, and describes
// those good enough to judge; the rest keep their flags and are never
// shown to the classification models.
func analyse(j *job, img Image, m Models, maxFaces int) {
	j.faces, j.err = m.Detect(img)
	if j.err != nil || len(j.faces) == 0 {
		return
	}
	j.faces = largest(j.faces, maxFaces)
	describeFaces(j, img, m, nil)
}

// prior is what a followed face already has: its last description, and
// whether its picture has changed so little that the description is
// reused whole.
type prior struct {
	attrs *Attributes // nil: none
	whole bool
}

// describeFaces measures each face of j, flags those too poor to judge,
// and describes the rest. With priors (one per face; nil for none), a face
// whose prior is whole keeps it, and one with a prior description has
// only its emotions read again when m is an EmotionReader (age and gender
// are the person's). fresh[i] says whether face i's emotions were read now.
func describeFaces(j *job, img Image, m Models, priors []prior) (fresh []bool) {
	j.quality = make([]facet.FaceQuality, len(j.faces))
	j.flags = make([][]string, len(j.faces))
	fresh = make([]bool, len(j.faces))
	if priors == nil {
		priors = make([]prior, len(j.faces))
	}
	er, _ := m.(EmotionReader)
	var full, emo []int // faces to describe whole, and for emotions only
	for i, d := range j.faces {
		j.quality[i] = MeasureFace(img, d)
		if j.flags[i] = FaceFlags(j.quality[i]); j.flags[i] != nil {
			continue
		}
		switch p := priors[i]; {
		case p.whole:
		case p.attrs != nil && er != nil:
			emo = append(emo, i)
		default:
			full = append(full, i)
		}
	}
	attrs := make([]Attributes, len(j.faces))
	if len(full) > 0 {
		got, err := m.Describe(img, pick(j.faces, full))
		if j.err = counted(err, len(got), len(full), "attributes"); j.err != nil {
			return fresh
		}
		for k, i := range full {
			attrs[i] = got[k]
		}
	}
	if len(emo) > 0 {
		got, err := er.Emotions(img, pick(j.faces, emo))
		if j.err = counted(err, len(got), len(emo), "emotion readings"); j.err != nil {
			return fresh
		}
		for k, i := range emo {
			attrs[i] = *priors[i].attrs
			attrs[i].Emotions = got[k]
		}
	}
	for i := range j.faces {
		if j.flags[i] == nil {
			if priors[i].whole {
				attrs[i] = *priors[i].attrs
			}
			j.attrs = append(j.attrs, attrs[i])
			fresh[i] = !priors[i].whole
		}
	}
	return fresh
}

// counted is err, or an error when a model gave got results for want faces.
func counted(err error, got, want int, what string) error {
	if err == nil && got != want {
		err = fmt.Errorf("%d %s for %d faces", got, what, want)
	}
	return err
}

// pick returns faces[idx...].
func pick(faces []Detection, idx []int) []Detection {
	out := make([]Detection, len(idx))
	for k, i := range idx {
		out[k] = faces[i]
	}
	return out
}

// emit turns a finished job into a frame, in order.
func emit(j *job, tr *Tracker) (facet.Frame, error) {
	if j.err != nil {
		return facet.Frame{}, fmt.Errorf("analysis: frame %d: %w", j.idx, j.err)
	}
	boxes := make([]Box, len(j.faces))
	for i, d := range j.faces {
		boxes[i] = d.Box
	}
	ids := tr.Assign(j.t, boxes)
	f := facet.Frame{T: facet.Num(j.t), Faces: make([]facet.Face, len(j.faces))}
	a := 0
	for i, d := range j.faces {
		if j.flags[i] != nil {
			f.Faces[i] = FlaggedFace(ids[i], d, j.quality[i], j.flags[i])
			continue
		}
		f.Faces[i] = MakeFace(ids[i], d, j.attrs[a])
		f.Faces[i].Quality = &j.quality[i]
		a++
	}
	return f, nil
}

// MakeFace builds the face record of a described detection and its
// attributes; its Quality is left to the caller.
func MakeFace(track int, d Detection, a Attributes) facet.Face {
	f := facet.Face{Track: track, Box: faceBox(d.Box), Score: facet.Num(d.Score), Flags: []string{}}
	setEmotions(&f, a.Emotions)
	if !math.IsNaN(a.Age) {
		f.Age = facet.NumPtr(a.Age)
	}
	if !math.IsNaN(a.Man) {
		f.Gender = &facet.GenderProb{Woman: facet.Num(1 - a.Man), Man: facet.Num(a.Man)}
	}
	return f
}

// FlaggedFace builds the record of a face found but not described: its
// box, score, quality and the flags that say why; every estimate is nil.
func FlaggedFace(track int, d Detection, q facet.FaceQuality, flags []string) facet.Face {
	return facet.Face{Track: track, Box: faceBox(d.Box), Score: facet.Num(d.Score), Quality: &q, Flags: flags}
}

// setEmotions sets a face's emotions and what follows from them, so that
// dominant and valence can never disagree with the scores shown.
func setEmotions(f *facet.Face, e facet.Emotions) {
	dom := facet.EmotionLabels[e.Dominant()]
	f.Emotions, f.Dominant, f.Valence = &e, &dom, facet.NumPtr(e.Valence())
}

// faceBox turns corners into the x, y, w, h of the face record.
func faceBox(b Box) [4]facet.Num {
	return [4]facet.Num{facet.Num(b.X1), facet.Num(b.Y1), facet.Num(b.X2 - b.X1), facet.Num(b.Y2 - b.Y1)}
}

// largest keeps the n largest faces, in the detector's order.
func largest(faces []Detection, n int) []Detection {
	if len(faces) <= n {
		return faces
	}
	idx := make([]int, len(faces))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return faces[idx[a]].Box.Area() > faces[idx[b]].Box.Area() })
	idx = idx[:n]
	sort.Ints(idx)
	out := make([]Detection, n)
	for i, k := range idx {
		out[i] = faces[k]
	}
	return out
}
