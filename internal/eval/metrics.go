package eval

import (
	"math"

	"github.com/humaninsight/facet"
)

// Prediction is what the engine said about one file.
type Prediction struct {
	Face      bool    // a face in at least one frame
	FaceRatio float64 // frames with a face over frames analysed
	Emotion   int     // index into facet.EmotionLabels; NoEmotion without a face
	Gender    string  // Man, Woman, Uncertain (or a future engine label); "" = no estimate
	Age       float64 // years; meaningful only when HasAge
	HasAge    bool
}

// Record pairs one file's truth with the engine's prediction.
type Record struct {
	Row   int
	Path  string
	Kind  Kind
	Truth Truth
	Pred  Prediction
}

// NoFaceColumn is the confusion matrix's last column: files with a true
// emotion in which no face was found. Counting them keeps recall honest:
// a detector that misses hard faces must not raise the classifier's score.
const NoFaceColumn = "no face"

// FaceFigures say how often a face was found at all.
type FaceFigures struct {
	Files    int        `json:"files"`     // files analysed
	WithFace int        `json:"with_face"` // of those, with a face in at least one frame
	Rate     *facet.Num `json:"rate"`      // WithFace / Files; null without files
	Videos   int        `json:"videos"`
	// VideoFaceRatioMean is the mean over videos of each video's share of
	// frames with a face: a video found in one frame of a hundred is a
	// "face found" file, and this figure shows that it barely was.
	VideoFaceRatioMean *facet.Num `json:"video_face_ratio_mean"`
}

// ClassRecall is one emotion's row of the confusion matrix in short.
type ClassRecall struct {
	Label  string     `json:"label"`
	N      int        `json:"n"`      // files with this true emotion
	Hits   int        `json:"hits"`   // of those, predicted as it
	Recall *facet.Num `json:"recall"` // Hits / N; null when N is 0
}

// EmotionFigures compare true and predicted emotions.
type EmotionFigures struct {
	N      int `json:"n"`       // files with a known true emotion
	Hits   int `json:"hits"`    // of those, predicted right
	NoFace int `json:"no_face"` // of those, without a face
	// Columns names Confusion's columns: facet.EmotionLabels, then
	// NoFaceColumn. Rows are the true emotions in EmotionLabels order.
	Columns   []string      `json:"columns"`
	Confusion [7][8]int     `json:"confusion"`
	Classes   []ClassRecall `json:"classes"`
	// BalancedAccuracy is the mean recall over the classes present in the
	// truth: with many neutral faces, plain accuracy rewards a model that
	// says neutral to everything.
	BalancedAccuracy *facet.Num `json:"balanced_accuracy"`
	Accuracy         *facet.Num `json:"accuracy"` // Hits / N
}

// GenderCounts compare true and predicted gender for a group of files.
type GenderCounts struct {
	Truth      string     `json:"truth"`       // Man, Woman, or "all"
	N          int        `json:"n"`           // files with this true gender
	Right      int        `json:"right"`       // predicted as it
	Wrong      int        `json:"wrong"`       // predicted as another gender
	Uncertain  int        `json:"uncertain"`   // the engine declined to say: not right
	NoFace     int        `json:"no_face"`     // no face found
	NoEstimate int        `json:"no_estimate"` // a face, but no label: not described, too few frames, or no gender model
	Accuracy   *facet.Num `json:"accuracy"`    // Right / N; null when N is 0
}

// GenderFigures are the counts overall and per true gender.
type GenderFigures struct {
	Overall GenderCounts   `json:"overall"`
	ByTruth []GenderCounts `json:"by_truth"` // man, then woman
}

// AgeBand is the error for files whose true age lies in [Min, next Min).
type AgeBand struct {
	Band string     `json:"band"` // "0-12", "13-19", "20-39", "40-59", "60+"
	Min  float64    `json:"-"`
	N    int        `json:"n"`    // files with a true age in the band and an estimate
	MAE  *facet.Num `json:"mae"`  // mean absolute error, years; null when N is 0
	Bias *facet.Num `json:"bias"` // mean of estimate minus truth: + means too old
}

// AgeFigures compare true and estimated ages.
type AgeFigures struct {
	Labelled   int        `json:"labelled"`    // files with a known true age
	N          int        `json:"n"`           // of those, with an age estimate
	NoEstimate int        `json:"no_estimate"` // of those, without one (no face, or none the engine would state)
	MAE        *facet.Num `json:"mae"`
	Bias       *facet.Num `json:"bias"`
	// PearsonR is the correlation of estimate and truth; null under two
	// pairs or when either side does not vary.
	PearsonR *facet.Num `json:"pearson_r"`
	Bands    []AgeBand  `json:"bands"`
}

// AgeBands are the bands of true age that the age error is broken into.
// A range label's midpoint (12.5 from "10-15") falls in the band whose
// lower bound it reaches, here 0-12.
var AgeBands = []AgeBand{{Band: "0-12", Min: 0}, {Band: "13-19", Min: 13}, {Band: "20-39", Min: 20}, {Band: "40-59", Min: 40}, {Band: "60+", Min: 60}}

// ratio returns num/den, or nil (JSON null, "-" in text) when den is 0.
func ratio(num, den float64) *facet.Num {
	if den == 0 {
		return nil
	}
	return facet.NumPtr(num / den)
}

// Faces computes the face-found figures.
func Faces(recs []Record) FaceFigures {
	f := FaceFigures{Files: len(recs)}
	var ratios float64
	for _, r := range recs {
		if r.Pred.Face {
			f.WithFace++
		}
		if r.Kind == Video {
			f.Videos++
			ratios += r.Pred.FaceRatio
		}
	}
	f.Rate = ratio(float64(f.WithFace), float64(f.Files))
	f.VideoFaceRatioMean = ratio(ratios, float64(f.Videos))
	return f
}

// Emotions computes the confusion matrix, recalls and accuracies over the
// records with a known true emotion.
func Emotions(recs []Record) EmotionFigures {
	e := EmotionFigures{Columns: append(append([]string(nil), facet.EmotionLabels[:]...), NoFaceColumn)}
	for _, r := range recs {
		t := r.Truth.Emotion
		if t == NoEmotion {
			continue
		}
		e.N++
		p := r.Pred.Emotion
		switch {
		case !r.Pred.Face || p == NoEmotion:
			e.NoFace++
			e.Confusion[t][7]++
		default:
			e.Confusion[t][p]++
		}
		if p == t && r.Pred.Face {
			e.Hits++
		}
	}
	var sum float64
	var present int
	for i, label := range facet.EmotionLabels {
		c := ClassRecall{Label: label, Hits: e.Confusion[i][i]}
		for _, n := range e.Confusion[i] {
			c.N += n
		}
		if c.Recall = ratio(float64(c.Hits), float64(c.N)); c.Recall != nil {
			sum += float64(c.Hits) / float64(c.N)
			present++
		}
		e.Classes = append(e.Classes, c)
	}
	e.BalancedAccuracy = ratio(sum, float64(present))
	e.Accuracy = ratio(float64(e.Hits), float64(e.N))
	return e
}

// Genders computes gender accuracy overall and per true gender.
func Genders(recs []Record) GenderFigures {
	g := GenderFigures{Overall: GenderCounts{Truth: "all"}, ByTruth: []GenderCounts{{Truth: Man}, {Truth: Woman}}}
	for _, r := range recs {
		if r.Truth.Gender == "" {
			continue
		}
		count(&g.Overall, r)
		for i := range g.ByTruth {
			if g.ByTruth[i].Truth == r.Truth.Gender {
				count(&g.ByTruth[i], r)
			}
		}
	}
	for _, c := range append([]*GenderCounts{&g.Overall}, &g.ByTruth[0], &g.ByTruth[1]) {
		c.Accuracy = ratio(float64(c.Right), float64(c.N))
	}
	return g
}

// count adds one record to c. The prediction goes through ParseGender so
// that a future engine spelling ("male") is still compared, not miscounted.
func count(c *GenderCounts, r Record) {
	c.N++
	pred, known := ParseGender(r.Pred.Gender)
	switch {
	case !r.Pred.Face:
		c.NoFace++
	case r.Pred.Gender == "":
		c.NoEstimate++
	case known && pred == r.Truth.Gender:
		c.Right++
	case known:
		c.Wrong++
	case r.Pred.Gender == Uncertain:
		c.Uncertain++
	default:
		c.Wrong++ // a label we cannot compare is not right either
	}
}

// Ages computes the age error overall, per band of true age, and the
// correlation of estimate and truth.
func Ages(recs []Record) AgeFigures {
	a := AgeFigures{Bands: append([]AgeBand(nil), AgeBands...)}
	var truth, pred []float64
	bandSum := make([][2]float64, len(a.Bands)) // absolute, signed error
	for _, r := range recs {
		if !r.Truth.HasAge {
			continue
		}
		a.Labelled++
		if !r.Pred.HasAge {
			a.NoEstimate++
			continue
		}
		truth, pred = append(truth, r.Truth.Age), append(pred, r.Pred.Age)
		b := bandOf(r.Truth.Age)
		a.Bands[b].N++
		bandSum[b][0] += math.Abs(r.Pred.Age - r.Truth.Age)
		bandSum[b][1] += r.Pred.Age - r.Truth.Age
	}
	a.N = len(truth)
	var abs, signed float64
	for i := range a.Bands {
		n := float64(a.Bands[i].N)
		a.Bands[i].MAE, a.Bands[i].Bias = ratio(bandSum[i][0], n), ratio(bandSum[i][1], n)
		abs, signed = abs+bandSum[i][0], signed+bandSum[i][1]
	}
	a.MAE, a.Bias = ratio(abs, float64(a.N)), ratio(signed, float64(a.N))
	if r, ok := Pearson(truth, pred); ok {
		a.PearsonR = facet.NumPtr(r)
	}
	return a
}

// bandOf returns the index in AgeBands of the band holding age.
func bandOf(age float64) int {
	b := 0
	for i, band := range AgeBands {
		if age >= band.Min {
			b = i
		}
	}
	return b
}

// Pearson returns the correlation coefficient of x and y (equal lengths).
// It is undefined (ok false) under two pairs or when either side is
// constant, where the formula divides by zero.
func Pearson(x, y []float64) (r float64, ok bool) {
	n := len(x)
	if n < 2 || len(y) != n {
		return 0, false
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/float64(n), my/float64(n)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}
