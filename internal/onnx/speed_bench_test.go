package onnx

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/humaninsight/facet/internal/testenv"
)

// benchManifest loads the runtime and the named set's manifest, or skips.
func benchManifest(b *testing.B, name string) *Manifest {
	b.Helper()
	openSet(b, name).Close() // skips when the set is not installed
	m, err := ReadManifest(filepath.Join(testenv.RepoRoot(), "models", name+".json"))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// rawSession opens spec's model at path with threads intra-op threads at
// optimisation level lvl, saving the optimised graph to save unless "".
func rawSession(b *testing.B, path string, spec Spec, threads int, lvl ort.GraphOptimizationLevel, save string) *ort.DynamicAdvancedSession {
	b.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer opts.Destroy()
	for _, err := range []error{opts.SetIntraOpNumThreads(threads), opts.SetInterOpNumThreads(1), opts.SetGraphOptimizationLevel(lvl)} {
		if err != nil {
			b.Fatal(err)
		}
	}
	if save != "" {
		if err := opts.SetOptimizedModelFilePath(save); err != nil {
			b.Fatal(err)
		}
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{spec.Input.Name}, spec.Outputs, opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// runOnce runs s once on an all-zero input of spec's shape, batch 1.
func runOnce(b *testing.B, s *ort.DynamicAdvancedSession, spec Spec) {
	shape := ort.NewShape(slices.Clone(spec.Input.Shape)...)
	shape[0] = 1
	in, err := ort.NewEmptyTensor[float32](shape)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(spec.Outputs))
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		b.Fatal(err)
	}
	for _, o := range outs {
		o.Destroy()
	}
}

// BenchmarkIntraOpThreads runs one frame's worth of the detector and the
// default set's largest classifier alone, with 1 and 2 intra-op threads:
// what a still (one frame in flight) would gain from more threads.
func BenchmarkIntraOpThreads(b *testing.B) {
	m := benchManifest(b, "default")
	for _, spec := range m.Models {
		if spec.Role != RoleDetector && !strings.HasSuffix(spec.File, "fr_expression.onnx") {
			continue
		}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", filepath.Base(spec.File), threads), func(b *testing.B) {
				s := rawSession(b, m.FilePath(spec), spec, threads, ort.GraphOptimizationLevelEnableAll, "")
				defer s.Destroy()
				runOnce(b, s, spec)
				b.ResetTimer()
				for range b.N {
					runOnce(b, s, spec)
				}
			})
		}
	}
}

// BenchmarkOpenSet times Open of each set, and the parts of it: checking
// the files' checksums, and making the sessions from the original models
// (optimised at load, as Open does) or from optimised graphs saved
// before (loaded without optimising again).
func BenchmarkOpenSet(b *testing.B) {
	for _, name := range []string{"fast", "default"} {
		m := benchManifest(b, name)
		b.Run(name+"/open", func(b *testing.B) {
			for range b.N {
				s, err := Open(m, nil)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(name+"/verify", func(b *testing.B) {
			for range b.N {
				if err := m.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
		saved := map[string]string{}
		dir := b.TempDir()
		for i, spec := range m.Models {
			saved[spec.Name] = filepath.Join(dir, fmt.Sprint(i, ".onnx"))
			rawSession(b, m.FilePath(spec), spec, 1, ort.GraphOptimizationLevelEnableAll, saved[spec.Name]).Destroy()
		}
		for _, c := range []struct {
			name  string
			saved bool
			lvl   ort.GraphOptimizationLevel
		}{
			{"sessions-original-all", false, ort.GraphOptimizationLevelEnableAll},
			{"sessions-saved-none", true, ort.GraphOptimizationLevelDisableAll},
			{"sessions-saved-basic", true, ort.GraphOptimizationLevelEnableBasic},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				for range b.N {
					for _, spec := range m.Models {
						path := m.FilePath(spec)
						if c.saved {
							path = saved[spec.Name]
						}
						rawSession(b, path, spec, 1, c.lvl, "").Destroy()
					}
				}
			})
		}
	}
}
