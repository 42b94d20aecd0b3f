package eval

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
)

// NoEmotion marks an emotion that is not known: a row without a label, or
// a prediction for a file in which no face was found.
const NoEmotion = -1

// Gender labels. Uncertain is what the engine's summary may say when its
// estimate is too close to call; it is never a truth label.
const (
	Man       = "man"
	Woman     = "woman"
	Uncertain = "uncertain"
)

// MaxAge bounds a plausible true age: a larger number is a typo or another
// unit (months), and would distort the error figures more than it informs.
const MaxAge = 130

// emotionNames maps every accepted spelling (lower case) to its index in
// facet.EmotionLabels. Datasets name the classes in adjective or noun form
// (FER2013 "fear", RAF-DB "fearful", AffectNet "anger"); contempt has no
// class in our models, so it stays unknown rather than being folded into
// disgust or neutral, which would flatter or punish the model arbitrarily.
var emotionNames = map[string]int{
	"angry": facet.Angry, "anger": facet.Angry,
	"disgust": facet.Disgust, "disgusted": facet.Disgust,
	"fear": facet.Fear, "fearful": facet.Fear,
	"happy": facet.Happy, "happiness": facet.Happy,
	"sad": facet.Sad, "sadness": facet.Sad,
	"surprise": facet.Surprise, "surprised": facet.Surprise,
	"neutral": facet.Neutral,
}

// genderNames maps accepted spellings (lower case) to Man or Woman.
var genderNames = map[string]string{
	"man": Man, "male": Man, "m": Man,
	"woman": Woman, "female": Woman, "f": Woman, "w": Woman,
}

// ParseEmotion returns the index in facet.EmotionLabels that label names,
// ignoring case and surrounding space.
func ParseEmotion(label string) (int, bool) {
	i, ok := emotionNames[strings.ToLower(strings.TrimSpace(label))]
	if !ok {
		return NoEmotion, false
	}
	return i, true
}

// ParseGender returns Man or Woman for label, ignoring case and space.
func ParseGender(label string) (string, bool) {
	g, ok := genderNames[strings.ToLower(strings.TrimSpace(label))]
	return g, ok
}

var (
	ageNumber = regexp.MustCompile(`^\d+(\.\d+)?$`)
	ageRange  = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$`)
)

// ParseAge reads a true age in years: a plain number, or a range such as
// "20-29" standing for its midpoint (24.5), as datasets that label by
// bracket give them. Only digits are accepted, so that "1e2", "inf" or a
// negative number (which strconv would read) count as unknown labels.
func ParseAge(label string) (float64, bool) {
	s := strings.TrimSpace(label)
	var age float64
	switch {
	case ageNumber.MatchString(s):
		age, _ = strconv.ParseFloat(s, 64)
	case ageRange.MatchString(s):
		m := ageRange.FindStringSubmatch(s)
		lo, _ := strconv.ParseFloat(m[1], 64)
		hi, _ := strconv.ParseFloat(m[2], 64)
		if lo > hi {
			return 0, false
		}
		age = (lo + hi) / 2
	default:
		return 0, false
	}
	if age > MaxAge || math.IsNaN(age) {
		return 0, false
	}
	return age, true
}

// EmotionName returns the label of an emotion index, "" for NoEmotion.
func EmotionName(i int) string {
	if i < 0 || i >= len(facet.EmotionLabels) {
		return ""
	}
	return facet.EmotionLabels[i]
}
