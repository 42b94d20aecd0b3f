package analysis

import "math"

// Tracking makes Run detect less: the detector runs on the first frame of
// every run of Every frames and on any frame where a face cannot be
// followed; between, each face found is followed from frame to frame by
// matching its picture, and a face whose picture has barely changed since
// it was last described keeps that description. A nil *Tracking detects
// and describes every frame.
type Tracking struct {
	// Every is the longest run of frames between two detections; 0 or 1
	// detects on every frame (a follower still reuses descriptions).
	Every int
	// MinMatch is the lowest normalised cross-correlation (-1..1) between
	// a face's picture in the previous frame and the best-matching place in
	// this one at which the face counts as followed; below it, or when its
	// box would leave the frame, the frame is detected afresh.
	MinMatch float64
	// MaxDrift is how far, as a share of its width, a followed face may
	// move from where it was last detected before the frame is detected
	// afresh.
	MaxDrift float64
	// ReuseBelow is the mean absolute difference in luma (0..255) between
	// a face's picture now and when it was last described under which its
	// description is reused; 0 describes every frame.
	ReuseBelow float64
}

// DefaultTracking is the faster mode's tuning: a detection at least every
// frame of five (once a second at 5 fps), a face followed while its
// picture correlates at 0.9 or more and within half its width of its
// detected place, and a description reused under a mean change of 4 luma
// levels (camera noise on a still face is about 1; TestTrackingCost
// measured 4 against no reuse: 11 % fewer faces described for 0.7 points
// of agreement).
var DefaultTracking = Tracking{Every: 5, MinMatch: 0.9, MaxDrift: 0.5, ReuseBelow: 4}

// plane is a luma picture at half the frame's size, what faces are matched
// on: a quarter of the pixels to search.
type plane struct {
	w, h int
	pix  []uint8
}

// halfPlane fills g with img's luma (Rec. 601 weights) at half size: the
// top-left pixel of each 2x2 block. Reading one pixel in four keeps it
// cheap (the frame is most of a megabyte); the patches compared are
// sampled coarser still.
func halfPlane(img Image, g *plane) {
	g.w, g.h = img.W/2, img.H/2
	if cap(g.pix) < g.w*g.h {
		g.pix = make([]uint8, g.w*g.h)
	}
	g.pix = g.pix[:g.w*g.h]
	row := img.W * 3
	for y := range g.h {
		src := img.Pix[2*y*row : 2*y*row+6*g.w]
		out := g.pix[y*g.w : (y+1)*g.w]
		for x := range out {
			p := src[6*x : 6*x+3 : 6*x+3]
			out[x] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
		}
	}
}

// patchN is the side of the grid of points a face is matched and compared
// on: at most patchN x patchN samples whatever the face's size.
const patchN = 24

// patch is a face's picture as patchN x patchN luma samples over its box.
type patch [patchN * patchN]float32

// grid is where b's patch samples lie in a plane: the columns and rows,
// ascending, of its patchN x patchN points.
type grid struct{ xs, ys [patchN]int }

func gridOf(g *plane, b Box) (gr grid) {
	x0, y0 := b.X1*float64(g.w), b.Y1*float64(g.h)
	sx, sy := (b.X2-b.X1)*float64(g.w)/patchN, (b.Y2-b.Y1)*float64(g.h)/patchN
	for i := range patchN {
		gr.xs[i] = int(x0 + (float64(i)+0.5)*sx)
		gr.ys[i] = int(y0 + (float64(i)+0.5)*sy)
	}
	return gr
}

// sample reads the patch at the grid's points offset by (dx, dy) pixels of
// g; false when any falls outside g.
func (gr *grid) sample(g *plane, dx, dy int, p *patch) bool {
	if gr.xs[0]+dx < 0 || gr.xs[patchN-1]+dx >= g.w || gr.ys[0]+dy < 0 || gr.ys[patchN-1]+dy >= g.h {
		return false
	}
	for j, y := range gr.ys {
		r := g.pix[(y+dy)*g.w : (y+dy+1)*g.w]
		for i, x := range gr.xs {
			p[j*patchN+i] = float32(r[x+dx])
		}
	}
	return true
}

// samplePatch reads b's patch from g, offset by (dx, dy) pixels of g; false
// when any sample falls outside g.
func samplePatch(g *plane, b Box, dx, dy int, p *patch) bool {
	gr := gridOf(g, b)
	return gr.sample(g, dx, dy, p)
}

// centred is a patch less its mean, with its length: one side of a
// correlation worked out once for every place it is compared with.
type centred struct {
	v    [patchN * patchN]float64
	norm float64
}

func centre(a *patch) (c centred) {
	var m float64
	for _, v := range a {
		m += float64(v)
	}
	m /= patchN * patchN
	var aa float64
	for i, v := range a {
		c.v[i] = float64(v) - m
		aa += c.v[i] * c.v[i]
	}
	c.norm = math.Sqrt(aa)
	return c
}

// ncc is the normalised cross-correlation of c's patch and b, -1..1; 0
// when either is flat. c's values sum to 0, so b's mean drops out of the
// numerator.
func (c *centred) ncc(b *patch) float64 {
	var sb, sbb, ab float64
	for i, v := range b {
		f := float64(v)
		sb += f
		sbb += f * f
		ab += c.v[i] * f
	}
	bb := sbb - sb*sb/(patchN*patchN)
	if c.norm == 0 || bb <= 1e-9 {
		return 0
	}
	return ab / (c.norm * math.Sqrt(bb))
}

// ncc is the normalised cross-correlation of a and b, -1..1; 0 when
// either is flat.
func ncc(a, b *patch) float64 {
	c := centre(a)
	return c.ncc(b)
}

// meanAbsDiff is the mean absolute difference of a and b.
func meanAbsDiff(a, b *patch) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i] - b[i]))
	}
	return s / (patchN * patchN)
}

// match finds where box b of prev went in cur (planes of one size): the
// offset in pixels, within a quarter of the box's width, whose patch
// correlates best with b's patch in prev; a coarse search on every second
// offset, then the eight neighbours of the best. ok is false when b's
// patch leaves prev.
func match(prev, cur *plane, b Box) (dx, dy int, score float64, ok bool) {
	var p patch
	gr := gridOf(prev, b)
	if !gr.sample(prev, 0, 0, &p) {
		return 0, 0, 0, false
	}
	tmpl := centre(&p)
	r := max(2, int(0.25*(b.X2-b.X1)*float64(cur.w))) &^ 1 // even: the coarse grid holds 0
	score = -2
	try := func(x, y int) {
		if gr.sample(cur, x, y, &p) {
			if s := tmpl.ncc(&p); s > score {
				dx, dy, score = x, y, s
			}
		}
	}
	for y := -r; y <= r; y += 2 {
		for x := -r; x <= r; x += 2 {
			try(x, y)
		}
	}
	cx, cy := dx, dy
	for y := cy - 1; y <= cy+1; y++ {
		for x := cx - 1; x <= cx+1; x++ {
			if x != cx || y != cy {
				try(x, y)
			}
		}
	}
	return dx, dy, score, score > -2
}

// follower carries faces from frame to frame within one segment: Run gives
// each run of Tracking.Every frames to one worker, in order, so the
// segments of several workers are analysed in parallel. A worker keeps one
// follower (and its planes) for all its segments, restarting it for each.
type follower struct {
	t         Tracking
	prev, cur plane
	faces     []followed // the previous frame's faces
	frames    int        // frames of the segment analysed
}

// restart forgets the faces followed: the next frame starts a segment.
func (f *follower) restart() {
	f.faces, f.frames = nil, 0
}

// followed is a face of the previous frame.
type followed struct {
	det    Detection
	anchor Box         // its box when last detected
	seen   patch       // its picture when last described
	attrs  *Attributes // that description; nil when not described
}

// analyse detects or follows the faces of j, the segment's next frame,
// and describes those whose picture changed.
func (f *follower) analyse(j *job, img Image, m Models, maxFaces int) {
	halfPlane(img, &f.cur)
	dets, ok := f.follow()
	var priors []prior
	if ok {
		j.faces, priors = dets, f.priors(dets)
	} else {
		if j.faces, j.err = m.Detect(img); j.err != nil {
			return
		}
		j.faces = largest(j.faces, maxFaces)
	}
	fresh := describeFaces(j, img, m, priors)
	if j.err == nil {
		f.remember(j, priors != nil, fresh)
	}
	f.prev, f.cur = f.cur, f.prev
	f.frames++
}

// follow moves every face of the previous frame to where its picture went;
// false when the frame must be detected: the segment's first frame, no
// face to follow, or a face lost, at an edge or drifted from its anchor.
func (f *follower) follow() ([]Detection, bool) {
	if f.frames == 0 || len(f.faces) == 0 {
		return nil, false
	}
	dets := make([]Detection, len(f.faces))
	for i, fc := range f.faces {
		dx, dy, score, ok := match(&f.prev, &f.cur, fc.det.Box)
		if !ok || score < f.t.MinMatch {
			return nil, false
		}
		ox, oy := float64(dx)/float64(f.cur.w), float64(dy)/float64(f.cur.h)
		d := fc.det
		d.Box = Box{d.Box.X1 + ox, d.Box.Y1 + oy, d.Box.X2 + ox, d.Box.Y2 + oy}
		if d.Box.X1 < 0 || d.Box.Y1 < 0 || d.Box.X2 > 1 || d.Box.Y2 > 1 {
			return nil, false
		}
		a := fc.anchor
		drift := math.Hypot((d.Box.X1+d.Box.X2-a.X1-a.X2)/2, (d.Box.Y1+d.Box.Y2-a.Y1-a.Y2)/2)
		if drift > f.t.MaxDrift*(a.X2-a.X1) {
			return nil, false
		}
		if d.Landmarks != nil {
			lm := *d.Landmarks
			for k := range lm {
				lm[k].X += ox
				lm[k].Y += oy
			}
			d.Landmarks = &lm
		}
		dets[i] = d
	}
	return dets, true
}

// priors returns, per followed face, its last description, to be reused
// whole when its picture differs from then by less than ReuseBelow.
func (f *follower) priors(dets []Detection) []prior {
	ps := make([]prior, len(dets))
	var p patch
	for i, d := range dets {
		fc := f.faces[i]
		ps[i].attrs = fc.attrs
		if fc.attrs != nil && samplePatch(&f.cur, d.Box, 0, 0, &p) && meanAbsDiff(&fc.seen, &p) < f.t.ReuseBelow {
			ps[i].whole = true
		}
	}
	return ps
}

// remember keeps j's faces for the next frame: anchors move only with a
// detection, and a description's picture only with a new reading.
func (f *follower) remember(j *job, wasFollowed bool, fresh []bool) {
	faces := make([]followed, len(j.faces))
	a := 0
	for i, d := range j.faces {
		fc := followed{det: d, anchor: d.Box}
		if wasFollowed {
			fc.anchor, fc.seen, fc.attrs = f.faces[i].anchor, f.faces[i].seen, f.faces[i].attrs
		}
		if j.flags[i] == nil {
			if fresh[i] {
				attrs := j.attrs[a]
				fc.attrs = &attrs
				if !samplePatch(&f.cur, d.Box, 0, 0, &fc.seen) {
					fc.attrs = nil
				}
			}
			a++
		} else {
			fc.attrs = nil
		}
		faces[i] = fc
	}
	f.faces = faces
}
