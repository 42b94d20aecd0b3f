// Package onnx runs the model sets described by manifests on ONNX Runtime
// (github.com/yalue/onnxruntime_go) and implements analysis.Models. It owns
// everything model-specific: checksums, crops, colour order,
// normalisation, tensor layout and post-processing.
package onnx

import (
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

var (
	initOnce sync.Once
	initErr  error
	initLib  string
)

// Init loads the ONNX Runtime shared library at lib once per process; later
// calls return the first call's result. The environment lives as long as
// the process: sessions are reused across analyses.
func Init(lib string) error {
	initOnce.Do(func() {
		initLib = lib
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("onnx: load runtime %s: %w", lib, err)
		}
	})
	if initErr == nil && lib != initLib {
		return fmt.Errorf("onnx: runtime already loaded from %s, not %s", initLib, lib)
	}
	return initErr
}

// Version returns the loaded ONNX Runtime's version.
func Version() string { return ort.GetVersion() }

// newSession opens a session on path with threads intra-op threads. The
// pipeline analyses several frames at once, so one thread a session uses
// the cores without the threads of one run fighting those of another.
func newSession(path, input string, outputs []string, threads int) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	return ort.NewDynamicAdvancedSession(path, []string{input}, outputs, opts)
}
