package handlers

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/api"
)

// openAPIPath is the API's contract, relative to this package.
var openAPIPath = filepath.Join("..", "api", "openapi.json")

// apiSpec is what the tests read of api/openapi.json.
type apiSpec struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// apiOperation is what the tests read of one operation.
type apiOperation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// httpMethods are the keys of a path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI returns the operations of api/openapi.json by
// "METHOD /path", the path as written in the contract.
func loadOpenAPI(t *testing.T) map[string]apiOperation {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec apiSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if spec.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", spec.OpenAPI)
	}
	ops := map[string]apiOperation{}
	for path, item := range spec.Paths {
		for key, v := range item {
			if !slices.Contains(httpMethods, key) {
				continue // parameters, summary, description
			}
			var op apiOperation
			if err := json.Unmarshal(v, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

// wantSecurity is the security requirement of an operation with access a
// (by its name, README's: "session" is the level of routes any signed-in
// account may call) and method: alternatives, one per credential, and a
// session's requests that are not GET or HEAD also send the CSRF header.
func wantSecurity(a Access, method string) ([]map[string][]string, bool) {
	session := map[string][]string{"session": {}}
	if method != "GET" && method != "HEAD" {
		session["csrf"] = []string{}
	}
	switch a.String() {
	case "public":
		return []map[string][]string{}, true
	case "session":
		return []map[string][]string{session}, true
	case "client":
		return []map[string][]string{{"apiKey": {}}, session}, true
	case "admin":
		return []map[string][]string{{"adminKey": {}}, session}, true
	}
	return nil, false
}

// docPath is a route's path as the document writes it: OpenAPI has no
// end anchor ({$}) and no wildcard of several segments ({path...} is
// {path}, whose description says it may hold slashes).
func docPath(p string) string {
	return strings.NewReplacer("{$}", "", "...}", "}").Replace(p)
}

// TestOpenAPIRoutes holds api/openapi.json to Routes(): every route is
// documented with its method, every documented operation is routed, and
// each operation's security is the route's access.
func TestOpenAPIRoutes(t *testing.T) {
	ops := loadOpenAPI(t)
	camel := regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	ids := map[string]string{}
	for key, op := range ops {
		if !camel.MatchString(op.OperationID) {
			t.Errorf("%s: operationId %q is not camelCase", key, op.OperationID)
		}
		if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %q", key, other, op.OperationID)
		}
		ids[op.OperationID] = key
	}
	routed := map[string]bool{}
	for _, rt := range Routes() {
		key := rt.Method + " " + docPath(rt.Path)
		routed[key] = true
		op, ok := ops[key]
		if !ok {
			t.Errorf("route %s is not in %s", key, openAPIPath)
			continue
		}
		want, ok := wantSecurity(rt.Auth, rt.Method)
		if !ok {
			t.Errorf("route %s: access %s has no security scheme", key, rt.Auth)
			continue
		}
		// Compared as JSON: public is security: [], not security left out.
		got, _ := json.Marshal(op.Security)
		wantJSON, _ := json.Marshal(want)
		if op.Security == nil || string(got) != string(wantJSON) {
			t.Errorf("%s (%s): security %s, want %s", key, rt.Auth, got, wantJSON)
		}
	}
	for key := range ops {
		if !routed[key] {
			t.Errorf("%s is documented but not routed", key)
		}
	}
}

// statusTableRow is one row of README.md's status table.
type statusTableRow struct {
	method, path, condition string
	status                  int
}

// readmeStatusTable parses README.md's "Status table", whose rows read
// | `METHOD /path` | condition | status |, as TestStatusTable writes them.
func readmeStatusTable(t *testing.T) []statusTableRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([A-Z]+) (/[^`]*)` \\| (.+) \\| ([0-9]{3}) \\|$")
	var rows []statusTableRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			in = strings.Contains(line, "Status table")
		case in:
			if m := row.FindStringSubmatch(line); m != nil {
				st, _ := strconv.Atoi(m[4])
				rows = append(rows, statusTableRow{m[1], m[2], m[3], st})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < len(statusRows()) {
		t.Fatalf("README.md's status table: %d rows parsed, want at least the %d of statusRows", len(rows), len(statusRows()))
	}
	return rows
}

// pathShape replaces the names of a path's parameters by {}: README
// names /api/invitations/{key} by what the key is ({token}, {id}).
func pathShape(p string) string {
	return regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(p, "{}")
}

// TestOpenAPIStatusTable: every status of README's status table is
// among the documented responses of its operation.
func TestOpenAPIStatusTable(t *testing.T) {
	ops := loadOpenAPI(t)
	byShape := map[string]apiOperation{}
	for key, op := range ops {
		if other, dup := byShape[pathShape(key)]; dup {
			t.Fatalf("%s and %s have the same path shape", key, other.OperationID)
		}
		byShape[pathShape(key)] = op
	}
	for _, r := range readmeStatusTable(t) {
		op, ok := byShape[pathShape(r.method+" "+r.path)]
		if !ok {
			t.Errorf("status table: %s %s is not in %s", r.method, r.path, openAPIPath)
			continue
		}
		if _, ok := op.Responses[strconv.Itoa(r.status)]; !ok {
			t.Errorf("%s %s (%s): %d is not among the responses of %s", r.method, r.path, r.condition, r.status, op.OperationID)
		}
	}
}

// TestOpenAPIExamples: every operation shows an example of what it takes
// (each request body's media type) and of what it answers when it
// succeeds (each 2xx answer with a body), as clients copy them first.
func TestOpenAPIExamples(t *testing.T) {
	type media struct {
		Example  json.RawMessage            `json:"example"`
		Examples map[string]json.RawMessage `json:"examples"`
	}
	type op struct {
		RequestBody *struct {
			Content map[string]media `json:"content"`
		} `json:"requestBody"`
		Responses map[string]struct {
			Content map[string]media `json:"content"`
		} `json:"responses"`
	}
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	has := func(m media) bool { return len(m.Example) > 0 || len(m.Examples) > 0 }
	for path, item := range spec.Paths {
		for key, v := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var o op
			if err := json.Unmarshal(v, &o); err != nil {
				t.Fatal(err)
			}
			name := strings.ToUpper(key) + " " + path
			if o.RequestBody != nil {
				for ct, m := range o.RequestBody.Content {
					if !has(m) {
						t.Errorf("%s: request body %s has no example", name, ct)
					}
				}
			}
			for st, resp := range o.Responses {
				if !strings.HasPrefix(st, "2") {
					continue
				}
				for ct, m := range resp.Content {
					if !has(m) && strings.Contains(ct, "json") {
						t.Errorf("%s: answer %s %s has no example", name, st, ct)
					}
				}
			}
		}
	}
}

// TestResultWarningsDocumented: every warning a result can carry (the
// engine's, and a study's viewing log's, from the domain's constants)
// is one the document's Result.warnings allows.
func TestResultWarningsDocumented(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Items struct {
						Pattern string `json:"pattern"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.Document, &doc); err != nil {
		t.Fatal(err)
	}
	re, err := regexp.Compile(doc.Components.Schemas["Result"].Properties["warnings"].Items.Pattern)
	if err != nil || re.String() == "" {
		t.Fatalf("Result.warnings has no pattern: %v", err)
	}
	const st = ":st_0123456789abcdef01234567"
	warnings := []string{facet.WarnTruncated, "viewing_log_missing", "viewing_log_invalid", "viewing_log_too_large"}
	for _, w := range []string{facet.WarnRecorderLate, facet.WarnLogPastRecording, facet.WarnRecordingPastLog, facet.WarnStrayEvents} {
		warnings = append(warnings, "viewing_"+w)
	}
	for _, w := range []string{facet.WarnStimulusUnfinished, facet.WarnStimulusSkipped, facet.WarnStimulusUnexpected} {
		warnings = append(warnings, "viewing_"+w+st)
	}
	for _, w := range warnings {
		if !re.MatchString(w) {
			t.Errorf("warning %q is not in the document", w)
		}
	}
	for _, w := range []string{"viewing_", "truncated:st_x", "viewing_stimulus_skipped"} {
		if re.MatchString(w) {
			t.Errorf("%q should not match", w)
		}
	}
}
