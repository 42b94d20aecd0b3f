// Command facet is the one binary of the facet service.
//
//	facet analyze [flags] VIDEO   analyse a video locally, no cloud
//	facet eval [flags] MANIFEST   measure the models against labelled files
//	facet models verify [SET...]  check installed model sets
//	facet models fix SRC DST      rewrite a shipped ONNX model for speed
//	facet models faceapi TGZ DIR  convert face-api's networks to ONNX
//	facet models human TGZ DIR    convert human-models' emotion net to ONNX
//	facet serve                   the Azure Functions custom handler
//	facet dev                     the whole service locally (stand-ins, host stand-in)
//	facet demo                    the main story on the local stack, then stop
//
// Configuration comes from the environment only; see config.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/humaninsight/facet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is bad command-line input: exit code 2, like bad videos.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode prints err's one-line reason and returns the exit code: 0 for
// success, 2 for bad input (usage or an unusable video), 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "facet:", ue.msg)
		return 2
	case facet.IsBadVideo(err):
		fmt.Fprintln(stderr, "facet: bad input:", facet.ErrorMessage(err))
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "facet: interrupted")
		return 1
	default:
		fmt.Fprintln(stderr, "facet:", err)
		return 1
	}
}

const usage = `usage:
  facet analyze [--fps N] [--smooth S] [--detect every-frame|track] [--models default|fast|MANIFEST.json] [--format text|json|csv|html] [-o FILE] VIDEO
  facet eval [--fps N] [--smooth S] [--models default|fast|MANIFEST.json] [--format text|json] [-o FILE] MANIFEST.csv
  facet models verify [SET ...]
  facet models fix SRC DST
  facet models faceapi PACKAGE.tgz OUTDIR
  facet models human PACKAGE.tgz OUTDIR
  facet serve          (the Functions custom handler; configuration from the environment)
  facet dev [--addr 127.0.0.1:7071]   (the whole service locally, with stand-ins)
  facet demo           (the main story on the local stack, then stop)`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("no command\n%s", usage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "analyze", "analyse":
		return cmdAnalyze(ctx, cfg, args[1:], stdout, stderr)
	case "eval":
		return cmdEval(ctx, cfg, args[1:], stdout, stderr)
	case "models":
		return cmdModels(cfg, args[1:], stdout)
	case "serve":
		return cmdServe(ctx, cfg, args[1:], stdout, stderr)
	case "dev":
		return cmdDev(ctx, cfg, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, cfg, args[1:], stdout, stderr)
	case "config-vars":
		// For infra-lint: which settings the deployment must and must not set.
		azure, local := azureVars()
		return json.NewEncoder(stdout).Encode(map[string][]string{"azure": azure, "localOnly": local})
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usagef("unknown command %q\n%s", args[0], usage)
}
