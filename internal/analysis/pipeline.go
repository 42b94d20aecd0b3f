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
	// OnFrame receives every frame in presentation order, from the
	// goroutine that called Run. An error stops the analysis.
	OnFrame func(facet.Frame) error
}

type job struct {
	idx   int
	t     float64
	buf   []byte
	faces []Detection
	attrs []Attributes
	err   error
}

// Run analyses every frame of src and returns the summary (WallS unset).
// Memory is bounded by Workers+2 frame buffers whatever the video's length:
// a buffer returns to the decoder only once its frame has been emitted in
// order, so out-of-order results can never pile up.
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

	nbuf := workers + 2
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, o.Width*o.Height*3)
	}
	jobs := make(chan *job)
	done := make(chan *job, nbuf)

	var decodeErr error
	var decoded int
	go func() {
		defer close(jobs)
		for idx := 0; ; idx++ {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			t, err := src.ReadFrame(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					decodeErr = err
				}
				decoded = idx
				return
			}
			select {
			case jobs <- &job{idx: idx, t: t, buf: buf}:
			case <-ctx.Done():
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() == nil {
					img := Image{W: o.Width, H: o.Height, Pix: j.buf}
					j.faces, j.err = m.Detect(img)
					if j.err == nil && len(j.faces) > 0 {
						j.faces = largest(j.faces, maxFaces)
						j.attrs, j.err = m.Describe(img, j.faces)
					}
				}
				done <- j
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var (
		sum     Summarizer
		tracker = NewTracker()
		pending = make(map[int]*job, nbuf)
		next    int
		runErr  error
	)
	for j := range done {
		if runErr != nil {
			continue // drain so every goroutine can finish
		}
		pending[j.idx] = j
		for pj := pending[next]; pj != nil; pj = pending[next] {
			delete(pending, next)
			next++
			if runErr = emit(pj, tracker, &sum, o.OnFrame); runErr != nil {
				cancel()
				break
			}
			free <- pj.buf
		}
	}
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr == nil && decodeErr != nil {
		runErr = fmt.Errorf("analysis: decode frame %d: %w", decoded, decodeErr)
	}
	if runErr != nil {
		return facet.Summary{}, runErr
	}
	return sum.Summary(), nil
}

// emit turns a finished job into a frame, in order.
func emit(j *job, tr *Tracker, sum *Summarizer, on func(facet.Frame) error) error {
	if j.err != nil {
		return fmt.Errorf("analysis: frame %d: %w", j.idx, j.err)
	}
	if len(j.attrs) != len(j.faces) {
		return fmt.Errorf("analysis: frame %d: %d attributes for %d faces", j.idx, len(j.attrs), len(j.faces))
	}
	boxes := make([]Box, len(j.faces))
	for i, d := range j.faces {
		boxes[i] = d.Box
	}
	ids := tr.Assign(j.t, boxes)
	f := facet.Frame{T: facet.Num(j.t), Faces: make([]facet.Face, len(j.faces))}
	for i, d := range j.faces {
		f.Faces[i] = MakeFace(ids[i], d, j.attrs[i])
	}
	sum.Add(f)
	if on != nil {
		return on(f)
	}
	return nil
}

// MakeFace builds the face record of one detection and its attributes.
func MakeFace(track int, d Detection, a Attributes) facet.Face {
	b := d.Box
	dom := a.Emotions.Dominant()
	f := facet.Face{
		Track:    track,
		Box:      [4]facet.Num{facet.Num(b.X1), facet.Num(b.Y1), facet.Num(b.X2 - b.X1), facet.Num(b.Y2 - b.Y1)},
		Score:    facet.Num(d.Score),
		Emotions: a.Emotions,
		Dominant: facet.EmotionLabels[dom],
		Valence:  facet.Num(a.Emotions.Valence()),
	}
	if !math.IsNaN(a.Age) {
		f.Age = facet.NumPtr(a.Age)
	}
	if !math.IsNaN(a.Man) {
		f.Gender = &facet.GenderProb{Woman: facet.Num(1 - a.Man), Man: facet.Num(a.Man)}
	}
	return f
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
