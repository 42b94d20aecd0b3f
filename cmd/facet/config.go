package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// config is every setting the binary reads, all from the environment.
type config struct {
	ORTLib    string // FACET_ORT_LIB: libonnxruntime.so.1
	ModelsDir string // FACET_MODELS_DIR: folder of <set>.json manifests
	FFmpeg    string // FACET_FFMPEG: ffmpeg program ("ffmpeg" from PATH)
	FFprobe   string // FACET_FFPROBE: ffprobe program
	Workers   int    // FACET_WORKERS: frames analysed at once (0 = cores)
}

// loadConfig reads the environment. Paths left unset are searched for in
// the places `make setup` and `make package` put things: beside the
// executable (a deployed app) and in the project around the working
// directory (a checkout).
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		ORTLib:    getenv("FACET_ORT_LIB"),
		ModelsDir: getenv("FACET_MODELS_DIR"),
		FFmpeg:    getenv("FACET_FFMPEG"),
		FFprobe:   getenv("FACET_FFPROBE"),
	}
	if v := getenv("FACET_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("config: FACET_WORKERS=%q: want a whole number >= 0", v)
		}
		c.Workers = n
	}
	roots := searchRoots()
	if c.ORTLib == "" {
		c.ORTLib = find(roots, "lib/libonnxruntime.so.1", ".cache/lib/libonnxruntime.so.1")
	}
	if c.ModelsDir == "" {
		c.ModelsDir = filepath.Dir(find(roots, "models/default.json"))
	}
	return c, nil
}

// searchRoots lists the executable's folder and its parent, then the
// working directory and its parents.
func searchRoots() []string {
	var roots []string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			roots = append(roots, filepath.Dir(exe), filepath.Dir(filepath.Dir(exe)))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return roots
}

// find returns the first root/rel that exists, or the first candidate
// under the first root so that errors name a sensible path.
func find(roots []string, rels ...string) string {
	for _, r := range roots {
		for _, rel := range rels {
			p := filepath.Join(r, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if len(roots) == 0 {
		return rels[0]
	}
	return filepath.Join(roots[0], rels[0])
}
