package onnx

import (
	"fmt"
	"math"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
)

// agreeFile records how closely the whole pipeline (detector, landmarks,
// aligned crop, models) on a face inside a generated frame agrees with the
// same models on that face cropped by hand from the full-resolution
// source: what the pipeline loses between the detector and the models.
const agreeFile = "testdata/hand-crop-agreement.json"

// agreeVariants are the variants the agreement is measured on: faces a
// webcam shows, smaller, tilted or turned.
var agreeVariants = []string{"base", "small-64px", "small-48px", "roll-15", "roll-30", "turned-30", "dim"}

func TestHandCropAgreement(t *testing.T) {
	got := map[string]map[string]float64{}
	for _, set := range []string{"default", "fast"} {
		s := openSet(t, set)
		srcs := faceSources(t, s)
		hand := make([]analysis.Attributes, len(srcs))
		clear := make([]bool, len(srcs))
		for i, src := range srcs {
			hand[i], clear[i] = handCrop(t, s, src)
			clear[i] = clear[i] && margin(hand[i].Emotions) >= clearMargin
		}
		got[set] = map[string]float64{}
		for _, name := range agreeVariants {
			v := variantNamed(t, name)
			var n, same, nClear, sameClear float64
			var dp, dage, dman float64
			for i, src := range srcs {
				for _, p := range positions {
					img, truth := render(src, v, p)
					a, ok := pipelineFace(t, s, img, truth)
					if !ok {
						continue // counted by the face-found test
					}
					n++
					agree := a.Emotions.Dominant() == hand[i].Emotions.Dominant()
					if agree {
						same++
					}
					if clear[i] {
						nClear++
						if agree {
							sameClear++
						}
					}
					for k := range a.Emotions {
						dp += math.Abs(a.Emotions[k]-hand[i].Emotions[k]) / 7
					}
					dage += math.Abs(a.Age - hand[i].Age)
					dman += math.Abs(a.Man - hand[i].Man)
				}
			}
			got[set][name+" dominant-agrees"] = same / n
			got[set][name+" dominant-agrees-clear-frontal"] = sameClear / nClear
			got[set][name+" 1-mean-abs-emotion-diff"] = 1 - dp/n
			got[set][name+" 1-mean-abs-man-diff"] = 1 - dman/n
			t.Logf("%s %s: %d faces, dominant agrees %.3f (%.3f of %d clear and frontal), mean |dp| %.4f, |dage| %.1f y, |dman| %.3f", set, name, int(n), same/n, sameClear/nClear, int(nClear), dp/n, dage/n, dman/n)
		}
	}
	checkFigures(t, agreeFile, got, 0.02)
}

// clearMargin is the lead of the top class over the second in the hand
// crop's reading above which a frontal face's expression counts as clear.
// On an ambiguous face any resampling flips the label, which says nothing
// about the pipeline; so does a face turned away (camera.png, in near
// profile), which the analysis itself flags as not to be trusted.
const clearMargin = 0.2

// margin returns the top probability minus the second.
func margin(e facet.Emotions) float64 {
	top := e.Dominant()
	second := 0.0
	for k, p := range e {
		if k != top {
			second = max(second, p)
		}
	}
	return e[top] - second
}

// handCrop describes src's face from the full-resolution picture, with
// the known box and the landmarks the set finds there, and says whether
// the face is frontal (not turned away by the analysis's own measure; a
// set without landmarks cannot tell and counts every face frontal).
func handCrop(t *testing.T, s *Set, src faceSource) (analysis.Attributes, bool) {
	t.Helper()
	d := analysis.Detection{Score: 1, Box: analysis.Box{
		X1: src.box[0] / float64(src.img.W), Y1: src.box[1] / float64(src.img.H),
		X2: src.box[2] / float64(src.img.W), Y2: src.box[3] / float64(src.img.H),
	}}
	dets := []analysis.Detection{d}
	if s.landmarks != nil {
		if err := s.findLandmarks(src.img, dets); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Describe(src.img, dets)
	if err != nil {
		t.Fatal(err)
	}
	return a[0], !analysis.TurnedAway(analysis.MeasureFace(src.img, dets[0]))
}

// pipelineFace runs detection and description on img and returns the
// attributes of the face that is the true one.
func pipelineFace(t *testing.T, s *Set, img analysis.Image, truth analysis.Box) (analysis.Attributes, bool) {
	t.Helper()
	dets, err := s.Detect(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dets {
		if found([]analysis.Detection{d}, truth) {
			a, err := s.Describe(img, []analysis.Detection{d})
			if err != nil {
				t.Fatal(err)
			}
			return a[0], true
		}
	}
	return analysis.Attributes{}, false
}

func variantNamed(t *testing.T, name string) variant {
	for _, v := range variants {
		if v.name == name {
			return v
		}
	}
	t.Fatal(fmt.Sprintf("no variant %q", name))
	return variant{}
}
