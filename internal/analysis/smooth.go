package analysis

import (
	"math"

	"github.com/humaninsight/facet"
)

// minProb floors probabilities before their logarithm: a model's exact 0
// (float32 softmax underflows) would otherwise be -Inf and veto that
// emotion for the whole window. 1e-6 is far below any score that matters.
const minProb = 1e-6

// timeEps absorbs the rounding of frame times (0.2*3 is not 0.6), so that
// a frame exactly half a window away is inside it, as intended.
const timeEps = 1e-6

// Smoother smooths each face track's emotion probabilities over a centred
// window of width SmoothS seconds (t ± SmoothS/2): a face's smoothed
// scores are the mean of the log-probabilities of the described faces of
// the same track in the window, exponentiated and renormalised (a
// normalised geometric mean, which a one-frame spike moves less than an
// arithmetic mean does). Frames of other tracks, flagged faces and frames
// outside the window never mix in. Dominant and valence follow the
// smoothed scores; boxes, age, gender, quality and flags are untouched.
// At the ends of the video the window holds only the frames that exist.
//
// Frames must be added in time order; they come out in the same order,
// each once the first frame beyond its window has arrived (or at Flush).
// The Smoother holds only the frames from half a window before the oldest
// frame not yet sent to half a window after it: at most SmoothS×fps+2
// frames at fps sampled frames per second, whatever the video's length.
// It is not safe for concurrent use.
type Smoother struct {
	half float64
	out  func(facet.Frame) error
	win  []held // in time order: past context, then frames not yet sent
	next int    // index in win of the first frame not yet sent
}

// held is a frame in the window with the logs of its faces' scores (nil
// for faces not described).
type held struct {
	f    facet.Frame
	logs []*[7]float64
}

// NewSmoother returns a smoother with a window of smoothS seconds that
// passes frames to out; smoothS <= 0 passes them on unchanged at once.
func NewSmoother(smoothS float64, out func(facet.Frame) error) *Smoother {
	return &Smoother{half: max(smoothS, 0) / 2, out: out}
}

// Add takes the next frame and sends on every frame whose window it
// completes. An error of out stops the smoother and is returned.
func (s *Smoother) Add(f facet.Frame) error {
	if s.half == 0 {
		return s.out(f)
	}
	h := held{f: f, logs: make([]*[7]float64, len(f.Faces))}
	for i, fc := range f.Faces {
		if fc.Emotions != nil {
			var l [7]float64
			for k, p := range fc.Emotions {
				l[k] = math.Log(max(p, minProb))
			}
			h.logs[i] = &l
		}
	}
	s.win = append(s.win, h)
	t := float64(f.T)
	for s.next < len(s.win) && float64(s.win[s.next].f.T)+s.half+timeEps < t {
		if err := s.send(); err != nil {
			return err
		}
	}
	s.forget()
	return nil
}

// Flush sends every frame still held; the smoother is then empty.
func (s *Smoother) Flush() error {
	for s.next < len(s.win) {
		if err := s.send(); err != nil {
			return err
		}
	}
	clear(s.win)
	s.win, s.next = s.win[:0], 0
	return nil
}

// send smooths and sends the first frame not yet sent.
func (s *Smoother) send() error {
	i := s.next
	s.next++
	return s.out(s.smoothed(i))
}

// forget drops the frames no frame still to be sent can reach.
func (s *Smoother) forget() {
	if s.next >= len(s.win) {
		return
	}
	from := float64(s.win[s.next].f.T) - s.half - timeEps
	k := 0
	for k < s.next && float64(s.win[k].f.T) < from {
		k++
	}
	if k == 0 {
		return
	}
	n := copy(s.win, s.win[k:])
	clear(s.win[n:])
	s.win, s.next = s.win[:n], s.next-k
}

// smoothed returns a copy of win[i]'s frame with smoothed scores.
func (s *Smoother) smoothed(i int) facet.Frame {
	cur := s.win[i]
	f := cur.f
	f.Faces = make([]facet.Face, len(cur.f.Faces))
	copy(f.Faces, cur.f.Faces)
	t := float64(f.T)
	for fi := range f.Faces {
		if cur.logs[fi] == nil {
			continue
		}
		track := f.Faces[fi].Track
		var sum [7]float64
		n := 0
		for _, h := range s.win {
			if math.Abs(float64(h.f.T)-t) > s.half+timeEps {
				continue
			}
			for hi, fc := range h.f.Faces {
				if fc.Track == track && h.logs[hi] != nil {
					for k, l := range h.logs[hi] {
						sum[k] += l
					}
					n++
				}
			}
		}
		setEmotions(&f.Faces[fi], normalisedExp(sum, n))
	}
	return f
}

// normalisedExp returns exp(sum/n) scaled to sum to 1. The largest mean
// log is subtracted first, so that the exponentials cannot underflow.
func normalisedExp(sum [7]float64, n int) facet.Emotions {
	var e facet.Emotions
	top := math.Inf(-1)
	for k := range sum {
		sum[k] /= float64(n)
		top = max(top, sum[k])
	}
	var total float64
	for k := range sum {
		e[k] = math.Exp(sum[k] - top)
		total += e[k]
	}
	for k := range e {
		e[k] /= total
	}
	return e
}
