package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// files creates empty files (and a folder "dir") under a new temp dir.
func files(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParse(t *testing.T) {
	dir := files(t, "a.png", "b.mp4", "c.png")
	abs := filepath.Join(dir, "c.png")
	// Columns out of order, a byte-order mark and capitals in the header,
	// an extra column, a short row and every kind of bad row.
	csv := "\ufeffKind, Gender ,note,Path,emotion,AGE\n" + // line 1
		"image,F,x,a.png,Happy,45\n" + // 2: all labels
		"VIDEO,,,b.mp4\n" + // 3: short row, no labels
		"image,x,,a.png,Happyish,60+\n" + // 4: three unknown labels
		"image,m,," + abs + ",fearful,20-29\n" + // 5: absolute path, range
		"image,,,,happy,\n" + // 6: no path
		"photo,,,a.png,,\n" + // 7: unknown kind
		",,,a.png,,\n" + // 8: no kind
		"image,,,missing.png,sad,\n" + // 9: file missing
		"video,,,dir,,\n" + // 10: a folder
		"\n" + // blank lines are not rows,
		" , ,,,,\n" + // nor are rows of empty fields
		"image,female,,c.png,happyish,abc\n" // 13: more unknown labels
	m, err := Parse(strings.NewReader(csv), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		DataRows: 10,
		Rows: []Row{
			{Row: 2, Path: "a.png", File: filepath.Join(dir, "a.png"), Kind: Image, Truth: Truth{Emotion: facet.Happy, Gender: Woman, Age: 45, HasAge: true}},
			{Row: 3, Path: "b.mp4", File: filepath.Join(dir, "b.mp4"), Kind: Video, Truth: Truth{Emotion: NoEmotion}},
			{Row: 4, Path: "a.png", File: filepath.Join(dir, "a.png"), Kind: Image, Truth: Truth{Emotion: NoEmotion}},
			{Row: 5, Path: abs, File: abs, Kind: Image, Truth: Truth{Emotion: facet.Fear, Gender: Man, Age: 24.5, HasAge: true}},
			{Row: 13, Path: "c.png", File: filepath.Join(dir, "c.png"), Kind: Image, Truth: Truth{Emotion: NoEmotion, Gender: Woman}},
		},
		Bad: []BadRow{
			{Row: 6, Reason: "no path"},
			{Row: 7, Path: "a.png", Reason: `unknown kind "photo" (want image or video)`},
			{Row: 8, Path: "a.png", Reason: "no kind (want image or video)"},
			{Row: 9, Path: "missing.png", Reason: "file not found"},
			{Row: 10, Path: "dir", Reason: "a folder, not a file"},
		},
		Unknown: []UnknownLabel{
			{Column: ColEmotion, Label: "Happyish", Count: 1, Rows: []int{4}},
			{Column: ColEmotion, Label: "happyish", Count: 1, Rows: []int{13}},
			{Column: ColGender, Label: "x", Count: 1, Rows: []int{4}},
			{Column: ColAge, Label: "60+", Count: 1, Rows: []int{4}},
			{Column: ColAge, Label: "abc", Count: 1, Rows: []int{13}},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
}

func TestParseCountsRepeatedUnknownLabel(t *testing.T) {
	dir := files(t, "a.png")
	csv := "path,kind,emotion\na.png,image,contempt\na.png,image,happy\na.png,image,contempt\n"
	m, err := Parse(strings.NewReader(csv), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []UnknownLabel{{Column: ColEmotion, Label: "contempt", Count: 2, Rows: []int{2, 4}}}
	if diff := cmp.Diff(want, m.Unknown); diff != "" || len(m.Rows) != 3 {
		t.Errorf("unknown (-want +got):\n%s; %d rows, want 3", diff, len(m.Rows))
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, csv, want string }{
		{"empty", "", "the manifest is empty"},
		{"no path column", "file,kind\n", `no "path" column`},
		{"no kind column", "path,emotion\n", `no "kind" column`},
		{"duplicate column", "path,kind,Path\n", `column "path" appears twice`},
		{"bad quote", "path,kind\na\"b.png,image\n", "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.csv), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "eval: ") {
				t.Errorf("error %v, want one prefixed eval: and containing %q", err, c.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := files(t, "a.png")
	path := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(path, []byte("path,kind\na.png,image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Read(path)
	if err != nil || len(m.Rows) != 1 || m.Rows[0].File != filepath.Join(dir, "a.png") {
		t.Errorf("Read: %+v, %v; want a.png resolved against the manifest's folder", m, err)
	}
	if _, err := Read(filepath.Join(dir, "nope.csv")); err == nil || !strings.HasPrefix(err.Error(), "eval: ") {
		t.Errorf("missing manifest: %v", err)
	}
}
