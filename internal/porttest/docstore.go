package porttest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// DocStoreOrderBy lists the fields the DocStore suite orders queries on,
// so that an adapter that serves ORDER BY from declared indexes (Cosmos
// DB's composite indexes) can declare them before running the suite.
var DocStoreOrderBy = []string{"n", "name", "ok", "rank", "size"}

// maxDocSize is Cosmos DB's item limit, which every DocStore enforces so
// that a document too big for Azure also fails locally.
const maxDocSize = 2 << 20

// DocStore runs the conformance suite of facet.DocStore. newStore is called
// once per subtest and may return a fresh store or a shared one: every
// subtest writes its own ids and partitions and queries only its own
// documents.
func DocStore(t *testing.T, newStore func(t *testing.T) facet.DocStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, facet.DocStore)
	}{
		{"CRUD", testCRUD},
		{"Errors", testErrors},
		{"Invalid", testInvalid},
		{"RoundTrip", testRoundTrip},
		{"Partitions", testPartitions},
		{"Query", testQuery},
		{"Paging", testPaging},
		{"ConcurrentReplace", testConcurrentReplace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// testCRUD walks one document of every container through each write and
// checks that every write yields an ETag never seen before.
func testCRUD(t *testing.T, s facet.DocStore) {
	for _, c := range facet.Containers {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			run := newRun()
			id := "doc-" + run
			part := partitionFor(c.Name, "p-"+run, id)
			etags := map[string]string{}
			fresh := func(step, etag string) {
				t.Helper()
				if etag == "" {
					t.Fatalf("%s: empty ETag", step)
				}
				if prev, ok := etags[etag]; ok {
					t.Errorf("%s returned the ETag of %s: %q", step, prev, etag)
				}
				etags[etag] = step
			}
			check := func(step, partition, id string, want []byte, etag string) {
				t.Helper()
				got, err := s.Read(ctx, c.Name, partition, id)
				if err != nil {
					t.Fatalf("%s: read: %v", step, err)
				}
				equalJSON(t, step, got.JSON, want)
				if got.ETag != etag {
					t.Errorf("%s: read ETag %q, the write returned %q", step, got.ETag, etag)
				}
			}

			v1 := mkdoc(c.Name, part, id, map[string]any{"v": 1})
			e1, err := s.Create(ctx, c.Name, part, v1)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			fresh("create", e1)
			check("create", part, id, v1, e1)

			v2 := mkdoc(c.Name, part, id, map[string]any{"v": 2, "extra": "x"})
			e2, err := s.Replace(ctx, c.Name, part, v2, e1)
			if err != nil {
				t.Fatalf("replace if-match: %v", err)
			}
			fresh("replace if-match", e2)
			check("replace if-match", part, id, v2, e2)

			v3 := mkdoc(c.Name, part, id, map[string]any{"v": 3})
			e3, err := s.Replace(ctx, c.Name, part, v3, "")
			if err != nil {
				t.Fatalf("replace: %v", err)
			}
			fresh("replace", e3)
			check("replace", part, id, v3, e3)

			v4 := mkdoc(c.Name, part, id, map[string]any{"v": 4})
			e4, err := s.Upsert(ctx, c.Name, part, v4)
			if err != nil {
				t.Fatalf("upsert existing: %v", err)
			}
			fresh("upsert existing", e4)
			check("upsert existing", part, id, v4, e4)

			other := "other-" + run
			otherPart := partitionFor(c.Name, part, other)
			v5 := mkdoc(c.Name, otherPart, other, map[string]any{"v": 5})
			e5, err := s.Upsert(ctx, c.Name, otherPart, v5)
			if err != nil {
				t.Fatalf("upsert new: %v", err)
			}
			fresh("upsert new", e5)
			check("upsert new", otherPart, other, v5, e5)
			check("upsert new leaves the first", part, id, v4, e4)

			if err := s.Delete(ctx, c.Name, part, id, e4); err != nil {
				t.Fatalf("delete if-match: %v", err)
			}
			_, err = s.Read(ctx, c.Name, part, id)
			wantCode(t, "read after delete", err, facet.ENotFound)
			if err := s.Delete(ctx, c.Name, otherPart, other, ""); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, err = s.Read(ctx, c.Name, otherPart, other)
			wantCode(t, "read after delete", err, facet.ENotFound)

			// A deleted id is free again.
			e6, err := s.Create(ctx, c.Name, part, v1)
			if err != nil {
				t.Fatalf("create after delete: %v", err)
			}
			fresh("create after delete", e6)
		})
	}
}

// testErrors checks the port's ENotFound and EConflict cases, and that a
// refused write leaves the document as it was.
func testErrors(t *testing.T, s facet.DocStore) {
	type fixture struct {
		container, part, id string
		stale, current      string // ETags of the document's first and second version
		missing             string // an id never written
	}
	tests := []struct {
		name      string
		container string
		code      string
		do        func(f fixture) error
	}{
		{"create existing id", facet.CProjects, facet.EConflict, func(f fixture) error {
			_, err := s.Create(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 9}))
			return err
		}},
		{"create existing id, partition by id", facet.CInvitations, facet.EConflict, func(f fixture) error {
			_, err := s.Create(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 9}))
			return err
		}},
		{"replace with stale ETag", facet.CProjects, facet.EConflict, func(f fixture) error {
			_, err := s.Replace(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 9}), f.stale)
			return err
		}},
		{"replace with unknown ETag", facet.CRecordings, facet.EConflict, func(f fixture) error {
			_, err := s.Replace(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 9}), `"no-such-etag"`)
			return err
		}},
		{"replace with stale ETag, partition by id", facet.CAPIKeys, facet.EConflict, func(f fixture) error {
			_, err := s.Replace(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 9}), f.stale)
			return err
		}},
		{"delete with stale ETag", facet.CProjects, facet.EConflict, func(f fixture) error {
			return s.Delete(t.Context(), f.container, f.part, f.id, f.stale)
		}},
		{"delete with stale ETag, partition by id", facet.CClients, facet.EConflict, func(f fixture) error {
			return s.Delete(t.Context(), f.container, f.part, f.id, f.stale)
		}},
		{"read missing", facet.CAudit, facet.ENotFound, func(f fixture) error {
			_, err := s.Read(t.Context(), f.container, f.part, f.missing)
			return err
		}},
		{"read missing, partition by id", facet.CClients, facet.ENotFound, func(f fixture) error {
			_, err := s.Read(t.Context(), f.container, f.missing, f.missing)
			return err
		}},
		{"replace missing", facet.CAnalyses, facet.ENotFound, func(f fixture) error {
			_, err := s.Replace(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.missing, nil), "")
			return err
		}},
		{"replace missing with an ETag", facet.CAnalyses, facet.ENotFound, func(f fixture) error {
			_, err := s.Replace(t.Context(), f.container, f.part, mkdoc(f.container, f.part, f.missing, nil), f.current)
			return err
		}},
		{"delete missing", facet.CAudit, facet.ENotFound, func(f fixture) error {
			return s.Delete(t.Context(), f.container, f.part, f.missing, "")
		}},
		{"delete missing with an ETag", facet.CAudit, facet.ENotFound, func(f fixture) error {
			return s.Delete(t.Context(), f.container, f.part, f.missing, f.current)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			run := newRun()
			f := fixture{container: tt.container, id: "doc-" + run, missing: "missing-" + run}
			f.part = partitionFor(f.container, "p-"+run, f.id)
			var err error
			if f.stale, err = s.Create(ctx, f.container, f.part, mkdoc(f.container, f.part, f.id, map[string]any{"v": 1})); err != nil {
				t.Fatalf("create: %v", err)
			}
			want := mkdoc(f.container, f.part, f.id, map[string]any{"v": 2})
			if f.current, err = s.Replace(ctx, f.container, f.part, want, ""); err != nil {
				t.Fatalf("replace: %v", err)
			}

			wantCode(t, tt.name, tt.do(f), tt.code)

			got, err := s.Read(ctx, f.container, f.part, f.id)
			if err != nil {
				t.Fatalf("read after the refused call: %v", err)
			}
			equalJSON(t, "after the refused call", got.JSON, want)
			if got.ETag != f.current {
				t.Errorf("after the refused call the ETag is %q, want %q", got.ETag, f.current)
			}
		})
	}
}

// testInvalid checks that malformed calls are refused before they reach
// the storage (EInvalid, or ETooLarge for an oversized document).
func testInvalid(t *testing.T, s facet.DocStore) {
	run := newRun()
	c := facet.CProjects
	part := "p-" + run
	id := "doc-" + run
	raw := func(s string) []byte { return []byte(s) }
	doc := func(fields map[string]any) []byte {
		m := map[string]any{"id": id, "clientId": part}
		for k, v := range fields {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	create := func(container, partition string, d []byte) func() error {
		return func() error { _, err := s.Create(t.Context(), container, partition, d); return err }
	}
	query := func(q facet.Query) func() error {
		return func() error { _, err := s.Query(t.Context(), c, q); return err }
	}
	huge := doc(map[string]any{"pad": strings.Repeat("x", maxDocSize)})

	tests := []struct {
		name string
		code string
		do   func() error
	}{
		{"create in unknown container", facet.EInvalid, create("nope", part, doc(nil))},
		{"read in unknown container", facet.EInvalid, func() error { _, err := s.Read(t.Context(), "nope", part, id); return err }},
		{"query unknown container", facet.EInvalid, func() error { _, err := s.Query(t.Context(), "nope", facet.Query{}); return err }},
		{"create not JSON", facet.EInvalid, create(c, part, raw(`{"id":`))},
		{"create JSON array", facet.EInvalid, create(c, part, raw(`[1,2]`))},
		{"create JSON null", facet.EInvalid, create(c, part, raw(`null`))},
		{"create without id", facet.EInvalid, create(c, part, doc(map[string]any{"id": nil}))},
		{"create numeric id", facet.EInvalid, create(c, part, doc(map[string]any{"id": 7}))},
		{"create empty id", facet.EInvalid, create(c, part, doc(map[string]any{"id": ""}))},
		{"create id with slash", facet.EInvalid, create(c, part, doc(map[string]any{"id": "a/b"}))},
		{"create id with backslash", facet.EInvalid, create(c, part, doc(map[string]any{"id": `a\b`}))},
		{"create id with question mark", facet.EInvalid, create(c, part, doc(map[string]any{"id": "a?b"}))},
		{"create id with hash", facet.EInvalid, create(c, part, doc(map[string]any{"id": "a#b"}))},
		{"create id too long", facet.EInvalid, create(c, part, doc(map[string]any{"id": strings.Repeat("a", 256)}))},
		{"create without partition key field", facet.EInvalid, create(c, part, doc(map[string]any{"clientId": nil}))},
		{"create with other partition key", facet.EInvalid, create(c, part, doc(map[string]any{"clientId": "other"}))},
		{"create numeric partition key", facet.EInvalid, create(c, part, doc(map[string]any{"clientId": 1}))},
		{"create in empty partition", facet.EInvalid, create(c, "", doc(map[string]any{"clientId": ""}))},
		{"create id not its partition", facet.EInvalid, create(facet.CClients, "other", raw(`{"id":"`+id+`"}`))},
		{"create too large", facet.ETooLarge, create(c, part, huge)},
		{"upsert too large", facet.ETooLarge, func() error { _, err := s.Upsert(t.Context(), c, part, huge); return err }},
		{"replace with other partition key", facet.EInvalid, func() error {
			_, err := s.Replace(t.Context(), c, part, doc(map[string]any{"clientId": "other"}), "")
			return err
		}},
		{"upsert without id", facet.EInvalid, func() error {
			_, err := s.Upsert(t.Context(), c, part, doc(map[string]any{"id": nil}))
			return err
		}},
		{"read empty partition", facet.EInvalid, func() error { _, err := s.Read(t.Context(), c, "", id); return err }},
		{"read empty id", facet.EInvalid, func() error { _, err := s.Read(t.Context(), c, part, ""); return err }},
		{"read id with slash", facet.EInvalid, func() error { _, err := s.Read(t.Context(), c, part, "a/b"); return err }},
		{"delete empty id", facet.EInvalid, func() error { return s.Delete(t.Context(), c, part, "", "") }},
		{"where empty field", facet.EInvalid, query(facet.Query{Where: map[string]any{"": "x"}})},
		{"where dotted field", facet.EInvalid, query(facet.Query{Where: map[string]any{"a.b": "x"}})},
		{"where field with space", facet.EInvalid, query(facet.Query{Where: map[string]any{"a b": "x"}})},
		{"where field with digit first", facet.EInvalid, query(facet.Query{Where: map[string]any{"1a": "x"}})},
		{"where field with quote", facet.EInvalid, query(facet.Query{Where: map[string]any{`a"] OR 1=1 --`: "x"}})},
		{"where null value", facet.EInvalid, query(facet.Query{Where: map[string]any{"a": nil}})},
		{"where object value", facet.EInvalid, query(facet.Query{Where: map[string]any{"a": map[string]any{"b": 1}}})},
		{"where array value", facet.EInvalid, query(facet.Query{Where: map[string]any{"a": []any{1}}})},
		{"order by path", facet.EInvalid, query(facet.Query{OrderBy: "c.id"})},
		{"order by injection", facet.EInvalid, query(facet.Query{OrderBy: "id DESC, c._ts"})},
		{"negative limit", facet.EInvalid, query(facet.Query{Limit: -1})},
		{"foreign continuation", facet.EInvalid, query(facet.Query{Partition: part, Continuation: "not a token"})},
		{"foreign continuation across partitions", facet.EInvalid, query(facet.Query{Continuation: "not a token"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantCode(t, tt.name, tt.do(), tt.code)
		})
	}
	// Nothing above may have stored anything.
	if _, err := s.Read(t.Context(), c, part, id); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("after the refused writes, read: %v, want not found", err)
	}
}

// roundTripDoc holds what documents carry: nested objects, arrays of mixed
// values, escapes, non-ASCII text, and numbers a float64 holds exactly.
const roundTripDoc = `{
	"text": "h\u00e9llo \"quoted\" back\\slash tab\t line\n <tag> & \u2028 \ud83d\ude00",
	"int": 42, "neg": -7, "float": -3.25, "exp": 1.5e10, "big": 9007199254740991, "zero": 0,
	"yes": true, "no": false, "nothing": null,
	"list": [1, "two", [3, [4]], {"five": 5}, null, false, 6.5],
	"empty": {}, "none": [],
	"nested": {"a": {"b": {"c": [{"d": "deep"}, {"e": []}]}}, "n": 1},
	"consent": {"version": "2026-01", "hash": "0f3a", "at": "2026-03-01T12:00:00Z"}
}`

// testRoundTrip checks that documents come back as they were stored (as
// decoded JSON values), from every read path and after every write.
func testRoundTrip(t *testing.T, s facet.DocStore) {
	ctx := t.Context()
	run := newRun()
	c := facet.CAnalyses
	part := "rec-" + run
	id := "run-" + run
	base := func(extra string) []byte {
		var m map[string]any
		if err := json.Unmarshal([]byte(roundTripDoc), &m); err != nil {
			t.Fatal(err)
		}
		m["id"], m["recordingId"], m["extra"] = id, part, extra
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	read := func(step string, want []byte) {
		t.Helper()
		got, err := s.Read(ctx, c, part, id)
		if err != nil {
			t.Fatalf("%s: read: %v", step, err)
		}
		equalJSON(t, step+": read", got.JSON, want)
		page, err := s.Query(ctx, c, facet.Query{Partition: part, Where: map[string]any{"id": id}})
		if err != nil {
			t.Fatalf("%s: query: %v", step, err)
		}
		if len(page.Docs) != 1 {
			t.Fatalf("%s: query found %d documents, want 1", step, len(page.Docs))
		}
		equalJSON(t, step+": query", page.Docs[0].JSON, want)
		if page.Docs[0].ETag != got.ETag {
			t.Errorf("%s: query ETag %q, read ETag %q", step, page.Docs[0].ETag, got.ETag)
		}
	}

	v1 := base("create")
	if _, err := s.Create(ctx, c, part, v1); err != nil {
		t.Fatal(err)
	}
	read("create", v1)
	// The caller's buffer is the caller's: changing it changes nothing stored.
	copy(v1, `{"id" :`)
	read("create, buffer reused", base("create"))

	v2 := base("replace")
	if _, err := s.Replace(ctx, c, part, v2, ""); err != nil {
		t.Fatal(err)
	}
	read("replace", v2)
	v3 := base("upsert")
	if _, err := s.Upsert(ctx, c, part, v3); err != nil {
		t.Fatal(err)
	}
	read("upsert", v3)

	// Compact JSON with no spaces or odd key order comes back the same too.
	v4 := []byte(`{"z":1,"id":"` + id + `","a":[{"y":[]}],"recordingId":"` + part + `"}`)
	if _, err := s.Upsert(ctx, c, part, v4); err != nil {
		t.Fatal(err)
	}
	read("compact", v4)
}

// testPartitions checks that the same id in two partitions names two
// documents, and that a call with the wrong partition finds nothing.
func testPartitions(t *testing.T, s facet.DocStore) {
	ctx := t.Context()
	run := newRun()
	c := facet.CProjects
	id := "doc-" + run
	pa, pb, pc := "a-"+run, "b-"+run, "c-"+run
	da := mkdoc(c, pa, id, map[string]any{"run": run, "v": "a"})
	db := mkdoc(c, pb, id, map[string]any{"run": run, "v": "b"})
	ea, err := s.Create(ctx, c, pa, da)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := s.Create(ctx, c, pb, db)
	if err != nil {
		t.Fatalf("same id in another partition: %v", err)
	}
	for _, p := range []struct {
		part string
		want []byte
		etag string
	}{{pa, da, ea}, {pb, db, eb}} {
		got, err := s.Read(ctx, c, p.part, id)
		if err != nil {
			t.Fatal(err)
		}
		equalJSON(t, "read "+p.part, got.JSON, p.want)
		if got.ETag != p.etag {
			t.Errorf("read %s: ETag %q, want %q", p.part, got.ETag, p.etag)
		}
	}

	_, err = s.Read(ctx, c, pc, id)
	wantCode(t, "read in the wrong partition", err, facet.ENotFound)
	_, err = s.Replace(ctx, c, pc, mkdoc(c, pc, id, nil), "")
	wantCode(t, "replace in the wrong partition", err, facet.ENotFound)
	_, err = s.Replace(ctx, c, pc, mkdoc(c, pc, id, nil), ea)
	wantCode(t, "replace in the wrong partition with its ETag", err, facet.ENotFound)
	wantCode(t, "delete in the wrong partition", s.Delete(ctx, c, pc, id, ""), facet.ENotFound)
	wantCode(t, "delete in the wrong partition with its ETag", s.Delete(ctx, c, pc, id, ea), facet.ENotFound)
	_, err = s.Read(ctx, facet.CClients, pa, id)
	wantCode(t, "read in a container partitioned by id, partition not the id", err, facet.ENotFound)
	// An ETag belongs to its document: b's ETag does not let a write a.
	_, err = s.Replace(ctx, c, pa, mkdoc(c, pa, id, nil), eb)
	wantCode(t, "replace with the other partition's ETag", err, facet.EConflict)

	page, err := s.Query(ctx, c, facet.Query{Partition: pb, Where: map[string]any{"run": run}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Docs) != 1 {
		t.Fatalf("query partition b: %d documents, want 1", len(page.Docs))
	}
	equalJSON(t, "query partition b", page.Docs[0].JSON, db)

	if err := s.Delete(ctx, c, pa, id, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Read(ctx, c, pb, id)
	if err != nil {
		t.Fatalf("b after deleting a: %v", err)
	}
	equalJSON(t, "b after deleting a", got.JSON, db)
}

// queryDocs is the fixture of testQuery: seven recordings in three
// partitions, with ties on every field but id.
var queryDocs = []struct {
	id, part string
	name     string
	size     float64
	ok       bool
	rank     int
}{
	{"a1", "A", "alpha", 1, true, 3},
	{"a2", "A", "beta", 2, false, 1},
	{"a3", "A", "alpha", 2.5, true, 2},
	{"b1", "B", "alpha", 10, false, 1},
	{"b2", "B", "gamma", 2, true, 3},
	{"c1", "C", "beta", -1, true, 2},
	{"c2", "C", "alpha", 2, false, 1},
}

func testQuery(t *testing.T, s facet.DocStore) {
	ctx := t.Context()
	run := newRun()
	c := facet.CRecordings
	partOf := func(p string) string {
		if p == "" {
			return ""
		}
		return "proj" + p + "-" + run
	}
	type stored struct {
		json []byte
		etag string
	}
	docs := map[string]stored{}
	for _, d := range queryDocs {
		part := partOf(d.part)
		b := mkdoc(c, part, run+"-"+d.id, map[string]any{
			"run": run, "name": d.name, "size": d.size, "ok": d.ok, "rank": d.rank,
			"tags": []any{d.name, d.rank}, "meta": map[string]any{"part": d.part},
		})
		etag, err := s.Create(ctx, c, part, b)
		if err != nil {
			t.Fatal(err)
		}
		docs[d.id] = stored{b, etag}
	}

	tests := []struct {
		name      string
		partition string // "A", "B", "C" or "" for all
		where     map[string]any
		orderBy   string
		desc      bool
		want      []string
	}{
		{name: "all, by id", want: []string{"a1", "a2", "a3", "b1", "b2", "c1", "c2"}},
		{name: "all, by id descending", desc: true, want: []string{"c2", "c1", "b2", "b1", "a3", "a2", "a1"}},
		{name: "all, order by id named", orderBy: "id", want: []string{"a1", "a2", "a3", "b1", "b2", "c1", "c2"}},
		{name: "one partition", partition: "A", want: []string{"a1", "a2", "a3"}},
		{name: "one partition descending", partition: "B", desc: true, want: []string{"b2", "b1"}},
		{name: "string", where: map[string]any{"name": "alpha"}, want: []string{"a1", "a3", "b1", "c2"}},
		{name: "string in a partition", partition: "A", where: map[string]any{"name": "alpha"}, want: []string{"a1", "a3"}},
		{name: "int", where: map[string]any{"size": 2}, want: []string{"a2", "b2", "c2"}},
		{name: "int64", where: map[string]any{"rank": int64(3)}, want: []string{"a1", "b2"}},
		{name: "float", where: map[string]any{"size": 2.5}, want: []string{"a3"}},
		{name: "negative", where: map[string]any{"size": -1}, want: []string{"c1"}},
		{name: "bool true", where: map[string]any{"ok": true}, want: []string{"a1", "a3", "b2", "c1"}},
		{name: "bool false in a partition", partition: "B", where: map[string]any{"ok": false}, want: []string{"b1"}},
		{name: "two fields", where: map[string]any{"name": "alpha", "ok": false}, want: []string{"b1", "c2"}},
		{name: "three fields", where: map[string]any{"name": "alpha", "ok": true, "rank": 2}, want: []string{"a3"}},
		{name: "id", where: map[string]any{"id": run + "-b2"}, want: []string{"b2"}},
		{name: "number as string", where: map[string]any{"size": "2"}, want: nil},
		{name: "bool as number", where: map[string]any{"ok": 1}, want: nil},
		{name: "missing field", where: map[string]any{"absent": "x"}, want: nil},
		{name: "no match", where: map[string]any{"name": "zeta"}, want: nil},
		{name: "no match in a partition", partition: "C", where: map[string]any{"name": "gamma"}, want: nil},
		{name: "empty partition", partition: "D", want: nil},
		{name: "number ascending", orderBy: "size", want: []string{"c1", "a1", "a2", "b2", "c2", "a3", "b1"}},
		{name: "number descending", orderBy: "size", desc: true, want: []string{"b1", "a3", "c2", "b2", "a2", "a1", "c1"}},
		{name: "ties by id", orderBy: "rank", want: []string{"a2", "b1", "c2", "a3", "c1", "a1", "b2"}},
		{name: "ties by id descending", orderBy: "rank", desc: true, want: []string{"b2", "a1", "c1", "a3", "c2", "b1", "a2"}},
		{name: "ordered in a partition", partition: "A", orderBy: "rank", want: []string{"a2", "a3", "a1"}},
		{name: "string ascending, filtered", where: map[string]any{"ok": true}, orderBy: "name", want: []string{"a1", "a3", "c1", "b2"}},
		{name: "string descending in a partition", partition: "A", orderBy: "name", desc: true, want: []string{"a2", "a3", "a1"}},
		{name: "bool ascending", orderBy: "ok", want: []string{"a2", "b1", "c2", "a1", "a3", "b2", "c1"}},
		{name: "filtered and ordered", where: map[string]any{"name": "alpha"}, orderBy: "size", desc: true, want: []string{"b1", "a3", "c2", "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			where := map[string]any{"run": run}
			maps.Copy(where, tt.where)
			page, err := s.Query(t.Context(), c, facet.Query{Partition: partOf(tt.partition), Where: where, OrderBy: tt.orderBy, Desc: tt.desc})
			if err != nil {
				t.Fatal(err)
			}
			if page.Continuation != "" {
				t.Errorf("continuation %q after all %d documents", page.Continuation, len(page.Docs))
			}
			var got []string
			for _, d := range page.Docs {
				id := docID(t, d.JSON)
				short := strings.TrimPrefix(id, run+"-")
				got = append(got, short)
				want, ok := docs[short]
				if !ok {
					t.Errorf("unexpected document %q", id)
					continue
				}
				equalJSON(t, short, d.JSON, want.json)
				if d.ETag != want.etag {
					t.Errorf("%s: ETag %q, want %q", short, d.ETag, want.etag)
				}
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// testPaging checks that pages hold at most Limit documents and together
// return every match exactly once, in order, in one partition and across
// partitions.
func testPaging(t *testing.T, s facet.DocStore) {
	const n = 25
	tests := []struct {
		name      string
		container string
		parts     int // documents spread over this many partitions; 1 = query one partition
		orderBy   string
		desc      bool
		limit     int
		sizes     []int
	}{
		{"one partition", facet.CProjects, 1, "n", false, 10, []int{10, 10, 5}},
		{"one partition descending", facet.CProjects, 1, "n", true, 7, []int{7, 7, 7, 4}},
		{"one partition by id", facet.CRecordings, 1, "", false, 10, []int{10, 10, 5}},
		{"one partition, default limit", facet.CAudit, 1, "n", false, 0, []int{25}},
		{"across partitions", facet.CAudit, 3, "n", false, 10, []int{10, 10, 5}},
		{"across partitions descending", facet.CAnalyses, 3, "n", true, 10, []int{10, 10, 5}},
		{"across partitions by id descending", facet.CProjects, 4, "", true, 6, []int{6, 6, 6, 6, 1}},
		{"across partitions, one per page", facet.CRecordings, 5, "n", false, 1, slices.Repeat([]int{1}, n)},
		{"across partitions, default limit", facet.CAudit, 2, "", false, 0, []int{25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			run := newRun()
			type key struct {
				n  int
				id string
			}
			var want []key
			for i := range n {
				// Reversed ids and three documents per n, so that order by n
				// differs from order by id and ties straddle pages.
				k := key{i / 3, fmt.Sprintf("%s-%02d", run, n-i)}
				part := fmt.Sprintf("p%d-%s", i%tt.parts, run)
				if _, err := s.Create(ctx, tt.container, part, mkdoc(tt.container, part, k.id, map[string]any{"run": run, "n": k.n})); err != nil {
					t.Fatal(err)
				}
				want = append(want, k)
			}
			slices.SortFunc(want, func(a, b key) int {
				c := cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.id, b.id))
				if tt.orderBy == "" {
					c = strings.Compare(a.id, b.id)
				}
				if tt.desc {
					return -c
				}
				return c
			})
			var wantIDs []string
			for _, k := range want {
				wantIDs = append(wantIDs, k.id)
			}

			q := facet.Query{Where: map[string]any{"run": run}, OrderBy: tt.orderBy, Desc: tt.desc, Limit: tt.limit}
			if tt.parts == 1 {
				q.Partition = "p0-" + run
			}
			var sizes []int
			var got []string
			for range 2 * n {
				page, err := s.Query(ctx, tt.container, q)
				if err != nil {
					t.Fatalf("page %d: %v", len(sizes)+1, err)
				}
				sizes = append(sizes, len(page.Docs))
				for _, d := range page.Docs {
					got = append(got, docID(t, d.JSON))
				}
				if page.Continuation == "" {
					break
				}
				q.Continuation = page.Continuation
			}
			if diff := gocmp.Diff(tt.sizes, sizes); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(wantIDs, got); diff != "" {
				t.Errorf("ids across pages (-want +got):\n%s", diff)
			}
		})
	}
}

// testConcurrentReplace checks optimistic concurrency: of writers racing
// with the same ETag, exactly one wins and the others get EConflict.
func testConcurrentReplace(t *testing.T, s facet.DocStore) {
	const writers = 10
	ctx := t.Context()
	run := newRun()
	c := facet.CRecordings
	part, id := "proj-"+run, "rec-"+run
	etag, err := s.Create(ctx, c, part, mkdoc(c, part, id, map[string]any{"writer": -1}))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
		won     string
		errs    []error
	)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			e, err := s.Replace(ctx, c, part, mkdoc(c, part, id, map[string]any{"writer": i}), etag)
			mu.Lock()
			defer mu.Unlock()
			switch facet.ErrorCode(err) {
			case "":
				winners = append(winners, i)
				won = e
			case facet.EConflict:
			default:
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("a losing writer got %v, want a conflict", err)
	}
	if len(winners) != 1 {
		t.Fatalf("%d writers won (%v), want exactly 1", len(winners), winners)
	}
	got, err := s.Read(ctx, c, part, id)
	if err != nil {
		t.Fatal(err)
	}
	equalJSON(t, "the winner's document", got.JSON, mkdoc(c, part, id, map[string]any{"writer": winners[0]}))
	if got.ETag != won {
		t.Errorf("ETag %q, the winner got %q", got.ETag, won)
	}
}

// newRun returns a random suffix that makes a subtest's ids and
// partitions its own.
func newRun() string {
	return hex.EncodeToString(randBytes(6))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pkField returns the top-level field holding container's partition key.
func pkField(container string) string {
	for _, c := range facet.Containers {
		if c.Name == container {
			return strings.TrimPrefix(c.PartitionKey, "/")
		}
	}
	panic("porttest: unknown container " + container)
}

// partitionFor returns the partition a document with id belongs in: the id
// itself in containers partitioned by id, else partition.
func partitionFor(container, partition, id string) string {
	if pkField(container) == "id" {
		return id
	}
	return partition
}

// mkdoc returns a JSON document of container with its id, its partition
// key and fields.
func mkdoc(container, partition, id string, fields map[string]any) []byte {
	m := map[string]any{}
	maps.Copy(m, fields)
	m["id"] = id
	m[pkField(container)] = partition
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func docID(t *testing.T, b []byte) string {
	t.Helper()
	var d struct{ ID string }
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("stored document is not JSON: %v: %s", err, b)
	}
	return d.ID
}

// equalJSON compares two documents as decoded JSON values, so that
// spacing, key order and number spelling do not matter but every field
// and value does.
func equalJSON(t *testing.T, step string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: document is not JSON: %v: %s", step, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want is not JSON: %v", step, err)
	}
	if diff := gocmp.Diff(w, g); diff != "" {
		t.Errorf("%s: document (-want +got):\n%s", step, diff)
	}
}

func wantCode(t *testing.T, step string, err error, code string) {
	t.Helper()
	if got := facet.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", step, err, got, code)
	}
}
