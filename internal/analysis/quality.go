package analysis

import (
	"fmt"
	"math"

	"github.com/humaninsight/facet"
)

// Per-face thresholds: below them a face is found but not described. The
// models would still return numbers, and those numbers would be guesses.
const (
	// MinFacePx is the shortest face side, in frame pixels, that is
	// described: half the 48 px input of the smallest expression net. A
	// smaller face is upsampled more than twice, and the net then reads
	// interpolation, not wrinkles, brows and teeth.
	MinFacePx = 24
	// MinFaceLuma is the lowest mean luma (0..255) of a described face:
	// about three stops under the mid grey (118) that auto-exposure aims
	// at. Below it most of the face lies in the few codes above black,
	// where sensor noise outweighs expression detail.
	MinFaceLuma = 40
)

// Per-recording thresholds: each raises one flag of RecordingQuality.
const (
	// FewFacesBelow: a described face in fewer than 80 % of the frames
	// leaves a fifth of the recording unread, so its means stand for less
	// than the whole.
	FewFacesBelow = 0.8
	// SmallFacesBelow is the median face side in pixels under which the
	// recording is flagged: smaller than the 48 px input of the smallest
	// expression net, so every face is upsampled before it is read.
	SmallFacesBelow = 48
	// DarkBelow is the mean face luma under which the recording is
	// flagged: about two stops under mid grey (118). Darker skin reflects
	// less light, so a well-exposed dark face may sit one stop under mid
	// grey (about 85); two stops leave room for it and still catch
	// under-exposed recordings.
	DarkBelow = 60
	// BlurryBelow is the mean sharpness under which the recording is
	// flagged. Sharp faces of the test clips (89 to 205 px) measure 500 to
	// 950, no single frame under 340; a Gaussian blur of 1 to 2 % of the
	// face's size brings them to 125 to 420, of 3 to 4.5 % to 30 to 60.
	// Blur moves the scores before it trips any threshold, so 100 flags
	// what is plainly blurred, not every loss. Sharpness grows with the
	// square of contrast: a dark face also reads less sharp.
	BlurryBelow = 100
	// TurnedAwayYaw is the |Yaw| above which a face counts as turned away:
	// about 30 degrees. With the nose tip some 20 mm in front of eyes
	// 63 mm apart (adult averages), a head turned by θ moves the nose by
	// (20/63)·tan θ eye distances, 0.18 at 30 degrees; 0.2 is 32 degrees.
	// Expression nets are trained on mostly frontal faces, and beyond that
	// one side of the face is foreshortened.
	TurnedAwayYaw = 0.2
	// TurnedAwayAbove is the share of faces turned away above which the
	// recording is flagged: a fifth of the observations read at an angle
	// the models were not trained for is enough to shift the means.
	TurnedAwayAbove = 0.2
)

// Face flag codes: why a face was not described.
const (
	FlagTooSmall = "too_small"
	FlagTooDark  = "too_dark"
)

// Recording flag codes: what makes a recording's figures less reliable.
const (
	FlagFewFaces   = "few_faces"
	FlagSmallFaces = "small_faces"
	FlagDark       = "dark"
	FlagBlurry     = "blurry"
	FlagTurnedAway = "turned_away"
)

// FlagText explains a face or recording flag code in plain words, with its
// threshold, for reports; an unknown code is returned as it is.
func FlagText(code string) string {
	switch code {
	case FlagTooSmall:
		return fmt.Sprintf("face smaller than %d px: not described", MinFacePx)
	case FlagTooDark:
		return fmt.Sprintf("face too dark (mean brightness under %d of 255): not described", MinFaceLuma)
	case FlagFewFaces:
		return fmt.Sprintf("a readable face in fewer than %.0f%% of the frames", 100*FewFacesBelow)
	case FlagSmallFaces:
		return fmt.Sprintf("small faces (median under %d px): estimates are less reliable", SmallFacesBelow)
	case FlagDark:
		return fmt.Sprintf("dark faces (mean brightness under %d of 255)", DarkBelow)
	case FlagBlurry:
		return fmt.Sprintf("blurry faces (mean sharpness under %d)", BlurryBelow)
	case FlagTurnedAway:
		return fmt.Sprintf("head turned away (more than about 30 degrees) in over %.0f%% of the faces", 100*TurnedAwayAbove)
	}
	return code
}

// FaceFlags decides from a face's quality whether it can be described:
// nil when it can, else the reasons. It is the only place that decides.
func FaceFlags(q facet.FaceQuality) []string {
	var flags []string
	if q.SizePx < MinFacePx {
		flags = append(flags, FlagTooSmall)
	}
	if q.Brightness < MinFaceLuma {
		flags = append(flags, FlagTooDark)
	}
	return flags
}

// RecordingFlags decides a recording's flags from its quality figures,
// in a fixed order; [] when none. It is the only place that decides, so
// the report and the exports show what the summary stored.
func RecordingFlags(q facet.RecordingQuality) []string {
	flags := []string{}
	below := func(n *facet.Num, limit float64) bool { return n != nil && float64(*n) < limit }
	if float64(q.DescribedRatio) < FewFacesBelow {
		flags = append(flags, FlagFewFaces)
	}
	if below(q.FaceSizePx, SmallFacesBelow) {
		flags = append(flags, FlagSmallFaces)
	}
	if below(q.Brightness, DarkBelow) {
		flags = append(flags, FlagDark)
	}
	if below(q.Sharpness, BlurryBelow) {
		flags = append(flags, FlagBlurry)
	}
	if q.TurnedAway != nil && float64(*q.TurnedAway) > TurnedAwayAbove {
		flags = append(flags, FlagTurnedAway)
	}
	return flags
}

// TurnedAway reports whether a face's head is turned too far sideways; false
// when its yaw is unknown.
func TurnedAway(q facet.FaceQuality) bool {
	return q.Yaw != nil && math.Abs(float64(*q.Yaw)) > TurnedAwayYaw
}

// ViewSize is the side of the square luma view on which sharpness is
// measured: big enough for the lines of a face, small enough to be cheap,
// and fixed so that the figure does not grow with the face's pixels.
const ViewSize = 64

// MeasureFace measures the face d in img (rgb24). The box is clipped to
// the frame and rounded to whole pixels; an empty box measures 0
// everywhere, which flags it too small.
func MeasureFace(img Image, d Detection) facet.FaceQuality {
	r := pixelRect(img, d.Box)
	var q facet.FaceQuality
	if r.empty() {
		return q
	}
	q.SizePx = facet.Num(min(r.x1-r.x0, r.y1-r.y0))
	q.Brightness = facet.Num(meanLuma(img, r))
	q.Sharpness = facet.Num(laplacianVariance(lumaView(img, r, ViewSize), ViewSize, ViewSize))
	if yaw, roll, ok := headPose(d.Landmarks, img.W, img.H); ok {
		q.Yaw, q.Roll = facet.NumPtr(yaw), facet.NumPtr(roll)
	}
	return q
}

// rect is a half-open pixel rectangle [x0, x1) x [y0, y1).
type rect struct{ x0, y0, x1, y1 int }

func (r rect) empty() bool { return r.x1 <= r.x0 || r.y1 <= r.y0 }

// pixelRect turns a normalised box into whole pixels of img, clipped: a
// face half outside the frame is judged by the half that can be seen.
func pixelRect(img Image, b Box) rect {
	px := func(v float64, n int) int { return min(max(int(math.Round(v*float64(n))), 0), n) }
	return rect{px(b.X1, img.W), px(b.Y1, img.H), px(b.X2, img.W), px(b.Y2, img.H)}
}

// luma returns the Rec.601 luma of pixel (x, y): what the expression nets
// read, since they take grey images made with the same weights.
func luma(img Image, x, y int) float64 {
	i := 3 * (y*img.W + x)
	p := img.Pix[i : i+3 : i+3]
	return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
}

// meanLuma returns the mean luma of r, which must not be empty.
func meanLuma(img Image, r rect) float64 {
	var sum float64
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			sum += luma(img, x, y)
		}
	}
	return sum / float64((r.x1-r.x0)*(r.y1-r.y0))
}

// tap is one source pixel's share of a view cell.
type tap struct {
	i int
	w float64
}

// axisTaps splits the source pixels [lo, hi) into n equal cells and
// returns each cell's source pixels weighted by how much of the cell they
// cover (weights sum to 1). Averaging by area keeps every source pixel's
// light when shrinking, and blends neighbours when enlarging.
func axisTaps(lo, hi, n int) [][]tap {
	scale := float64(hi-lo) / float64(n)
	out := make([][]tap, n)
	for j := range out {
		a := float64(lo) + float64(j)*scale
		b := a + scale
		for i := int(math.Floor(a)); i < hi && float64(i) < b; i++ {
			if cover := min(b, float64(i+1)) - max(a, float64(i)); cover > 1e-9 {
				out[j] = append(out[j], tap{i, cover / scale})
			}
		}
	}
	return out
}

// lumaView resamples the luma of r to n x n by area, row-major.
func lumaView(img Image, r rect, n int) []float64 {
	xs, ys := axisTaps(r.x0, r.x1, n), axisTaps(r.y0, r.y1, n)
	view := make([]float64, n*n)
	for vy, ty := range ys {
		for vx, tx := range xs {
			var v float64
			for _, a := range ty {
				for _, b := range tx {
					v += a.w * b.w * luma(img, b.i, a.i)
				}
			}
			view[vy*n+vx] = v
		}
	}
	return view
}

// laplacianVariance returns the population variance of the 3x3 Laplacian
// (0 1 0 / 1 -4 1 / 0 1 0) over the interior of a w x h grid: edges and
// fine lines give large responses of both signs, blur flattens them. A
// grid without interior gives 0.
func laplacianVariance(g []float64, w, h int) float64 {
	if w < 3 || h < 3 {
		return 0
	}
	var sum, sq float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			l := g[i-w] + g[i+w] + g[i-1] + g[i+1] - 4*g[i]
			sum += l
			sq += l * l
		}
	}
	n := float64((w - 2) * (h - 2))
	mean := sum / n
	return max(sq/n-mean*mean, 0)
}

// headPose returns the yaw proxy and roll (degrees) of five landmarks in a
// w x h frame (see facet.FaceQuality); ok is false without landmarks or
// with both eyes on one point. Both are measured in pixels, since
// normalised coordinates stretch a non-square frame.
func headPose(lm *[5]Point, w, h int) (yaw, roll float64, ok bool) {
	if lm == nil {
		return 0, 0, false
	}
	px := func(p Point) (float64, float64) { return p.X * float64(w), p.Y * float64(h) }
	rx, ry := px(lm[RightEye])
	lx, ly := px(lm[LeftEye])
	nx, ny := px(lm[Nose])
	dx, dy := lx-rx, ly-ry
	dist := math.Hypot(dx, dy)
	if dist < 1e-9 {
		return 0, 0, false
	}
	// The nose's offset is taken along the eye line, so that a leaning
	// head (roll) does not read as a turned one.
	mx, my := (rx+lx)/2, (ry+ly)/2
	yaw = ((nx-mx)*dx + (ny-my)*dy) / dist / dist
	roll = math.Atan2(dy, dx) * 180 / math.Pi
	return yaw, roll, true
}
