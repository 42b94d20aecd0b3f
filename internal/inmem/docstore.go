package inmem

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/humaninsight/facet"
)

// MaxDocSize is the largest document DocStore accepts: Cosmos DB's item
// limit, so that a document too big for Azure fails in tests and in
// `facet dev` too.
const MaxDocSize = 2 << 20

// DocStore is a facet.DocStore in memory. The zero value is not usable;
// call NewDocStore.
type DocStore struct {
	mu sync.RWMutex
	// docs maps container, then partition, then id to the stored version.
	// A docEntry is never modified once stored, so readers may use one
	// after unlocking.
	docs map[string]map[string]map[string]*docEntry
	seq  uint64
	tag  string // random per store, so no ETag of one store matches another's
}

type docEntry struct {
	json   []byte
	etag   string
	fields map[string]any // top-level fields, decoded once for Query
}

var _ facet.DocStore = (*DocStore)(nil)

// NewDocStore returns an empty store with every container of
// facet.Containers.
func NewDocStore() *DocStore {
	b := make([]byte, 4)
	rand.Read(b)
	s := &DocStore{docs: map[string]map[string]map[string]*docEntry{}, tag: hex.EncodeToString(b)}
	for _, c := range facet.Containers {
		s.docs[c.Name] = map[string]map[string]*docEntry{}
	}
	return s
}

// Create implements facet.DocStore.
func (s *DocStore) Create(ctx context.Context, container, partition string, doc []byte) (string, error) {
	const op = "create"
	d, err := docParse(ctx, op, container, partition, doc)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.partition(container, partition)
	if _, ok := p[d.id]; ok {
		return "", facet.Errorf(facet.EConflict, "inmem: %s %s: id exists", op, container)
	}
	return s.put(p, d), nil
}

// Read implements facet.DocStore.
func (s *DocStore) Read(ctx context.Context, container, partition, id string) (facet.Doc, error) {
	const op = "read"
	if err := docCheckKey(ctx, op, container, partition, id); err != nil {
		return facet.Doc{}, err
	}
	s.mu.RLock()
	e := s.docs[container][partition][id]
	s.mu.RUnlock()
	if e == nil {
		return facet.Doc{}, facet.Errorf(facet.ENotFound, "inmem: %s %s: not found", op, container)
	}
	return facet.Doc{JSON: bytes.Clone(e.json), ETag: e.etag}, nil
}

// Replace implements facet.DocStore.
func (s *DocStore) Replace(ctx context.Context, container, partition string, doc []byte, ifMatch string) (string, error) {
	const op = "replace"
	d, err := docParse(ctx, op, container, partition, doc)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.partition(container, partition)
	old := p[d.id]
	if old == nil {
		return "", facet.Errorf(facet.ENotFound, "inmem: %s %s: not found", op, container)
	}
	if ifMatch != "" && ifMatch != old.etag {
		return "", facet.Errorf(facet.EConflict, "inmem: %s %s: ETag does not match", op, container)
	}
	return s.put(p, d), nil
}

// Upsert implements facet.DocStore.
func (s *DocStore) Upsert(ctx context.Context, container, partition string, doc []byte) (string, error) {
	d, err := docParse(ctx, "upsert", container, partition, doc)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(s.partition(container, partition), d), nil
}

// Delete implements facet.DocStore.
func (s *DocStore) Delete(ctx context.Context, container, partition, id, ifMatch string) error {
	const op = "delete"
	if err := docCheckKey(ctx, op, container, partition, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.docs[container][partition]
	old := p[id]
	if old == nil {
		return facet.Errorf(facet.ENotFound, "inmem: %s %s: not found", op, container)
	}
	if ifMatch != "" && ifMatch != old.etag {
		return facet.Errorf(facet.EConflict, "inmem: %s %s: ETag does not match", op, container)
	}
	delete(p, id)
	if len(p) == 0 {
		delete(s.docs[container], partition)
	}
	return nil
}

// Query implements facet.DocStore. Pages continue after the last document
// of the previous page (by its sort key, id and partition) rather than at
// an offset, so writes between pages neither repeat nor skip the
// documents that stay.
func (s *DocStore) Query(ctx context.Context, container string, q facet.Query) (facet.Page, error) {
	const op = "query"
	cq, err := docCheckQuery(ctx, op, container, q)
	if err != nil {
		return facet.Page{}, err
	}
	var hits []docHit
	s.mu.RLock()
	for part, p := range s.docs[container] {
		if q.Partition != "" && part != q.Partition {
			continue
		}
		for id, e := range p {
			if docMatches(e.fields, cq.where) {
				v, ok := e.fields[cq.orderBy]
				hits = append(hits, docHit{facet.SortKeyOf(v, ok), id, part, e})
			}
		}
	}
	s.mu.RUnlock()

	order := func(a, b docHit) int {
		c := cmp.Or(a.key.Compare(b.key), strings.Compare(a.id, b.id), strings.Compare(a.part, b.part))
		if q.Desc {
			return -c
		}
		return c
	}
	slices.SortFunc(hits, order)
	if cq.after != nil {
		after := docHit{key: cq.after.Key, id: cq.after.ID, part: cq.after.Part}
		i, _ := slices.BinarySearchFunc(hits, after, order)
		for i < len(hits) && order(hits[i], after) <= 0 {
			i++
		}
		hits = hits[i:]
	}

	var page facet.Page
	if len(hits) > cq.limit {
		hits = hits[:cq.limit]
		last := hits[len(hits)-1]
		page.Continuation = docCursor{last.key, last.id, last.part}.encode()
	}
	for _, h := range hits {
		page.Docs = append(page.Docs, facet.Doc{JSON: bytes.Clone(h.e.json), ETag: h.e.etag})
	}
	return page, nil
}

// partition returns the documents of one partition, making the map if
// needed. The caller holds s.mu for writing.
func (s *DocStore) partition(container, partition string) map[string]*docEntry {
	p := s.docs[container][partition]
	if p == nil {
		p = map[string]*docEntry{}
		s.docs[container][partition] = p
	}
	return p
}

// put stores a new version with a new ETag. The caller holds s.mu for
// writing.
func (s *DocStore) put(p map[string]*docEntry, d docParsed) string {
	s.seq++
	e := &docEntry{json: d.json, fields: d.fields, etag: fmt.Sprintf(`"%s-%d"`, s.tag, s.seq)}
	p[d.id] = e
	return e.etag
}

type docHit struct {
	key  facet.SortKey
	id   string
	part string
	e    *docEntry
}

type docParsed struct {
	id     string
	json   []byte // a copy: the caller may reuse its buffer
	fields map[string]any
}

// docParse checks a document as Cosmos DB would: a JSON object of at most
// MaxDocSize bytes with a valid string id and its partition key field
// equal to partition.
func docParse(ctx context.Context, op, container, partition string, doc []byte) (docParsed, error) {
	pk, err := docContainer(ctx, op, container)
	if err != nil {
		return docParsed{}, err
	}
	if len(doc) > MaxDocSize {
		return docParsed{}, facet.Errorf(facet.ETooLarge, "inmem: %s %s: document of %d bytes is over %d", op, container, len(doc), MaxDocSize)
	}
	var fields map[string]any
	if err := json.Unmarshal(doc, &fields); err != nil || fields == nil {
		return docParsed{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: document is not a JSON object", op, container)
	}
	id, _ := fields["id"].(string)
	if err := docCheckPartitionID(op, container, partition, id); err != nil {
		return docParsed{}, err
	}
	if v, _ := fields[pk].(string); v != partition {
		return docParsed{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: document's %s is not its partition", op, container, pk)
	}
	return docParsed{id: id, json: bytes.Clone(doc), fields: fields}, nil
}

// docCheckKey checks the arguments of a call that names a document.
func docCheckKey(ctx context.Context, op, container, partition, id string) error {
	if _, err := docContainer(ctx, op, container); err != nil {
		return err
	}
	return docCheckPartitionID(op, container, partition, id)
}

// docContainer returns the partition key field of container, which must
// be one of facet.Containers, and fails if ctx is done: a store in memory
// still honours cancellation like one across the network.
func docContainer(ctx context.Context, op, container string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", facet.Errorf(facet.EUnavailable, "inmem: %s %s: %w", op, container, err)
	}
	for _, c := range facet.Containers {
		if c.Name == container {
			return strings.TrimPrefix(c.PartitionKey, "/"), nil
		}
	}
	return "", facet.Errorf(facet.EInvalid, "inmem: %s: unknown container %q", op, container)
}

// docCheckPartitionID refuses what Cosmos DB refuses or cannot address
// again: an empty partition (Query reads "" as "all"), and an id that is
// empty, over 255 bytes, or holds / \ ? # (they break the item's URL).
func docCheckPartitionID(op, container, partition, id string) error {
	switch {
	case partition == "":
		return facet.Errorf(facet.EInvalid, "inmem: %s %s: empty partition", op, container)
	case id == "":
		return facet.Errorf(facet.EInvalid, "inmem: %s %s: no id", op, container)
	case len(id) > 255:
		return facet.Errorf(facet.EInvalid, "inmem: %s %s: id over 255 bytes", op, container)
	case strings.ContainsAny(id, `/\?#`):
		return facet.Errorf(facet.EInvalid, "inmem: %s %s: id holds one of / \\ ? #", op, container)
	}
	return nil
}

type docQuery struct {
	where   map[string]any // values normalised to string, float64 or bool
	orderBy string
	limit   int
	after   *docCursor
}

// docCheckQuery validates q as the Cosmos DB adapter does, so that a
// query that works here works there.
func docCheckQuery(ctx context.Context, op, container string, q facet.Query) (docQuery, error) {
	if _, err := docContainer(ctx, op, container); err != nil {
		return docQuery{}, err
	}
	cq := docQuery{where: map[string]any{}, orderBy: cmp.Or(q.OrderBy, "id"), limit: cmp.Or(q.Limit, 100)}
	for f, v := range q.Where {
		if !facet.IsFieldName(f) {
			return docQuery{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: bad field name %q", op, container, f)
		}
		nv, ok := facet.QueryScalar(v)
		if !ok {
			return docQuery{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: field %s: %T is not a string, number or boolean", op, container, f, v)
		}
		cq.where[f] = nv
	}
	if !facet.IsFieldName(cq.orderBy) {
		return docQuery{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: bad order field %q", op, container, q.OrderBy)
	}
	if q.Limit < 0 {
		return docQuery{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: negative limit", op, container)
	}
	if q.Continuation != "" {
		c, err := docDecodeCursor(q.Continuation)
		if err != nil {
			return docQuery{}, facet.Errorf(facet.EInvalid, "inmem: %s %s: bad continuation", op, container)
		}
		cq.after = &c
	}
	return cq, nil
}

// docMatches reports whether every where field equals the document's.
// Values of different JSON types never match, as in Cosmos DB.
func docMatches(fields, where map[string]any) bool {
	for f, want := range where {
		if got, ok := fields[f]; !ok || got != want {
			return false
		}
	}
	return true
}

// docCursor is the position after which the next page starts.
type docCursor struct {
	Key  facet.SortKey `json:"k"`
	ID   string        `json:"i"`
	Part string        `json:"p"`
}

func (c docCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func docDecodeCursor(s string) (docCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return docCursor{}, err
	}
	var c docCursor
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return docCursor{}, err
	}
	if c.ID == "" || c.Part == "" {
		return docCursor{}, fmt.Errorf("incomplete cursor")
	}
	return c, nil
}
