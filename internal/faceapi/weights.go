package faceapi

import (
	"encoding/json"
	"fmt"

	"github.com/humaninsight/facet/internal/tfjs"
)

// tensor is one decoded float32 weight in face-api's (TensorFlow) layout.
type tensor = tfjs.Tensor

// decodeWeights reads every tensor of a face-api weights manifest with
// tfjs's decoder. face-api's networks hold float32 weights only: any
// other tensor is refused rather than converted to nothing.
func decodeWeights(manifestJSON []byte, readBin func(path string) ([]byte, error)) (map[string]tensor, error) {
	var groups []tfjs.WeightGroup
	if err := json.Unmarshal(manifestJSON, &groups); err != nil {
		return nil, fmt.Errorf("weights manifest: %w", err)
	}
	w, err := tfjs.DecodeWeights(groups, readBin)
	if err != nil {
		return nil, err
	}
	for name, t := range w {
		if t.F == nil {
			return nil, fmt.Errorf("tensor %s: not float32", name)
		}
	}
	return w, nil
}
