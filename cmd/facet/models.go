package main

import (
	"fmt"
	"io"

	"github.com/humaninsight/facet/internal/onnx"
	"github.com/humaninsight/facet/internal/onnxfix"
)

func cmdModels(cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("models: want verify or fix\n%s", usage)
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
	}
	return usagef("models: unknown subcommand %q", args[0])
}
