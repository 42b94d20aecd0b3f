// Package cosmosdb is the facet.DocStore of Azure Cosmos DB (NoSQL API),
// on azcosmos. Documents are stored exactly as given; Cosmos DB's system
// properties are stripped on the way out so they round-trip unchanged.
package cosmosdb

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/humaninsight/facet"
)

// MaxDocSize is Cosmos DB's item limit. Larger documents are refused
// before they are sent, with the code (ETooLarge) the service's 413 gets.
const MaxDocSize = 2 << 20

// defaultLimit is the page size of a Query with Limit 0, as the port says.
const defaultLimit = 100

// scanPageSize is the page size of the unordered cross-partition scan
// behind a Query with Partition "".
const scanPageSize = 1000

// systemProps are the properties Cosmos DB adds to every item.
var systemProps = []string{"_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"}

// Options configure a Store. The zero value (or nil) is the default.
type Options struct {
	// OrderBy lists, per container, the fields queries order on. Cosmos DB
	// serves ORDER BY field, id only from a composite index (field, id), so
	// EnsureContainers declares one in each direction for every field
	// listed here. In Azure, Bicep must declare the same indexes.
	OrderBy map[string][]string
}

// Store is a facet.DocStore on one Cosmos DB database whose containers are
// those of facet.Containers. It is safe for concurrent use.
type Store struct {
	client     *azcosmos.Client
	database   string
	opts       Options
	containers map[string]*azcosmos.ContainerClient
	pkFields   map[string]string
	err        error // from New: every call returns it
}

var _ facet.DocStore = (*Store)(nil)

// New returns a Store on database through client. The containers must
// exist: Bicep creates them in Azure, EnsureContainers elsewhere.
func New(client *azcosmos.Client, database string, opts *Options) *Store {
	s := &Store{client: client, database: database, containers: map[string]*azcosmos.ContainerClient{}, pkFields: map[string]string{}}
	if opts != nil {
		s.opts = *opts
	}
	for _, c := range facet.Containers {
		cc, err := client.NewContainer(database, c.Name)
		if err != nil {
			s.err = facet.Errorf(facet.EInternal, "cosmosdb: container %s: %w", c.Name, err)
			break
		}
		s.containers[c.Name] = cc
		s.pkFields[c.Name] = strings.TrimPrefix(c.PartitionKey, "/")
	}
	return s
}

// EnsureContainers creates the database and every container of
// facet.Containers that does not exist yet, with its partition key and the
// composite indexes of Options.OrderBy. It does not change containers that
// exist. Only for local stand-ins and emulators: in Azure the app's
// identity may not create them (data-plane RBAC) and Bicep does.
func (s *Store) EnsureContainers(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	_, err := s.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: s.database}, nil)
	if err != nil && !hasStatus(err, http.StatusConflict) {
		return classify(err, "create database", s.database)
	}
	db, err := s.client.NewDatabase(s.database)
	if err != nil {
		return facet.Errorf(facet.EInternal, "cosmosdb: database %s: %w", s.database, err)
	}
	for _, c := range facet.Containers {
		props := azcosmos.ContainerProperties{
			ID:                     c.Name,
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{c.PartitionKey}},
			IndexingPolicy:         s.indexingPolicy(c.Name),
		}
		_, err := db.CreateContainer(ctx, props, nil)
		if err != nil && !hasStatus(err, http.StatusConflict) {
			return classify(err, "create container", c.Name)
		}
	}
	return nil
}

// indexingPolicy is Cosmos DB's default (every path, consistent) plus a
// composite index (field, id) in both directions per ordered field. Both
// directions because some servers (the local stand-in) do not serve
// ORDER BY from an index declared in the opposite order.
func (s *Store) indexingPolicy(container string) *azcosmos.IndexingPolicy {
	p := &azcosmos.IndexingPolicy{
		Automatic:     true,
		IndexingMode:  azcosmos.IndexingModeConsistent,
		IncludedPaths: []azcosmos.IncludedPath{{Path: "/*"}},
	}
	for _, f := range s.opts.OrderBy[container] {
		if f == "id" || !facet.IsFieldName(f) {
			continue
		}
		for _, o := range []azcosmos.CompositeIndexOrder{azcosmos.CompositeIndexAscending, azcosmos.CompositeIndexDescending} {
			p.CompositeIndexes = append(p.CompositeIndexes, []azcosmos.CompositeIndex{{Path: "/" + f, Order: o}, {Path: "/id", Order: o}})
		}
	}
	return p
}

// Create implements facet.DocStore.
func (s *Store) Create(ctx context.Context, container, partition string, doc []byte) (string, error) {
	const op = "create"
	cc, _, err := s.checkDoc(op, container, partition, doc)
	if err != nil {
		return "", err
	}
	resp, err := cc.CreateItem(ctx, azcosmos.NewPartitionKeyString(partition), doc, nil)
	if err != nil {
		return "", classify(err, op, container)
	}
	return string(resp.ETag), nil
}

// Read implements facet.DocStore.
func (s *Store) Read(ctx context.Context, container, partition, id string) (facet.Doc, error) {
	const op = "read"
	cc, err := s.checkKey(op, container, partition, id)
	if err != nil {
		return facet.Doc{}, err
	}
	resp, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString(partition), id, nil)
	if err != nil {
		return facet.Doc{}, classify(err, op, container)
	}
	item, err := decodeItem(resp.Value)
	if err != nil {
		return facet.Doc{}, facet.Errorf(facet.EInternal, "cosmosdb: %s %s: %w", op, container, err)
	}
	return facet.Doc{JSON: item.json, ETag: string(resp.ETag)}, nil
}

// Replace implements facet.DocStore.
func (s *Store) Replace(ctx context.Context, container, partition string, doc []byte, ifMatch string) (string, error) {
	const op = "replace"
	cc, id, err := s.checkDoc(op, container, partition, doc)
	if err != nil {
		return "", err
	}
	resp, err := cc.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(partition), id, doc, itemOptions(ifMatch))
	if err != nil {
		return "", classify(err, op, container)
	}
	return string(resp.ETag), nil
}

// Upsert implements facet.DocStore.
func (s *Store) Upsert(ctx context.Context, container, partition string, doc []byte) (string, error) {
	const op = "upsert"
	cc, _, err := s.checkDoc(op, container, partition, doc)
	if err != nil {
		return "", err
	}
	resp, err := cc.UpsertItem(ctx, azcosmos.NewPartitionKeyString(partition), doc, nil)
	if err != nil {
		return "", classify(err, op, container)
	}
	return string(resp.ETag), nil
}

// Delete implements facet.DocStore.
func (s *Store) Delete(ctx context.Context, container, partition, id, ifMatch string) error {
	const op = "delete"
	cc, err := s.checkKey(op, container, partition, id)
	if err != nil {
		return err
	}
	if _, err := cc.DeleteItem(ctx, azcosmos.NewPartitionKeyString(partition), id, itemOptions(ifMatch)); err != nil {
		return classify(err, op, container)
	}
	return nil
}

func itemOptions(ifMatch string) *azcosmos.ItemOptions {
	if ifMatch == "" {
		return nil
	}
	etag := azcore.ETag(ifMatch)
	return &azcosmos.ItemOptions{IfMatchEtag: &etag}
}

// Continuation tokens say which kind of query made them, so that a token
// is never fed to the other kind.
const (
	tokenPartition = "p:" // + the service's continuation token
	tokenScan      = "s:" // + a cursor encoded by this package
)

// Query implements facet.DocStore.
//
// In one partition it is one parameterised query ordered by
// (OrderBy, id), which needs a composite index per ordered field (see
// Options.OrderBy); pages continue with the service's continuation token.
//
// Across partitions (Partition "") the gateway that azcosmos talks to
// cannot serve ORDER BY or TOP, so the Store scans every match without
// ORDER BY, sorts in memory and continues after the previous page's last
// document. Each page reads every match: such queries are for sweeps and
// tools, not request paths.
func (s *Store) Query(ctx context.Context, container string, q facet.Query) (facet.Page, error) {
	const op = "query"
	cc, pk, err := s.container(op, container)
	if err != nil {
		return facet.Page{}, err
	}
	where, err := checkWhere(op, container, q)
	if err != nil {
		return facet.Page{}, err
	}
	limit := cmp.Or(q.Limit, defaultLimit)
	if q.Partition == "" {
		return s.scan(ctx, cc, op, container, pk, q, where, limit)
	}

	sql, params := selectSQL(pk, q.Partition, where)
	orderBy := cmp.Or(q.OrderBy, "id")
	dir := ""
	if q.Desc {
		dir = " DESC"
	}
	sql += " ORDER BY " + fieldRef(orderBy) + dir
	if orderBy != "id" {
		sql += ", " + fieldRef("id") + dir
	}

	var token *string
	if q.Continuation != "" {
		t, ok := strings.CutPrefix(q.Continuation, tokenPartition)
		if !ok || t == "" {
			return facet.Page{}, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: bad continuation", op, container)
		}
		token = &t
	}
	pk0 := azcosmos.NewPartitionKeyString(q.Partition)
	var page facet.Page
	// The service may end a page early (by size or time) and still have
	// more: ask again for the rest so that only the last page is short.
	for {
		opts := &azcosmos.QueryOptions{
			PageSizeHint:      int32(limit - len(page.Docs)),
			ContinuationToken: token,
			QueryParameters:   params,
		}
		resp, err := cc.NewQueryItemsPager(sql, pk0, opts).NextPage(ctx)
		if err != nil {
			return facet.Page{}, classify(err, op, container)
		}
		for _, b := range resp.Items {
			item, err := decodeItem(b)
			if err != nil {
				return facet.Page{}, facet.Errorf(facet.EInternal, "cosmosdb: %s %s: %w", op, container, err)
			}
			page.Docs = append(page.Docs, facet.Doc{JSON: item.json, ETag: item.etag})
		}
		token = resp.ContinuationToken
		if token == nil || *token == "" || len(page.Docs) >= limit {
			break
		}
	}
	if token != nil && *token != "" {
		page.Continuation = tokenPartition + *token
	}
	return page, nil
}

// scan answers a cross-partition query: every match, sorted here.
func (s *Store) scan(ctx context.Context, cc *azcosmos.ContainerClient, op, container, pk string, q facet.Query, where []cond, limit int) (facet.Page, error) {
	var after *cursor
	if q.Continuation != "" {
		c, err := decodeCursor(q.Continuation)
		if err != nil {
			return facet.Page{}, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: bad continuation", op, container)
		}
		after = &c
	}
	orderBy := cmp.Or(q.OrderBy, "id")
	sql, params := selectSQL(pk, "", where)
	pager := cc.NewQueryItemsPager(sql, azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{PageSizeHint: scanPageSize, QueryParameters: params})
	var hits []hit
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return facet.Page{}, classify(err, op, container)
		}
		for _, b := range resp.Items {
			item, err := decodeItem(b)
			if err != nil {
				return facet.Page{}, facet.Errorf(facet.EInternal, "cosmosdb: %s %s: %w", op, container, err)
			}
			h := hit{doc: facet.Doc{JSON: item.json, ETag: item.etag}}
			json.Unmarshal(item.fields["id"], &h.id)
			json.Unmarshal(item.fields[pk], &h.part)
			h.key, err = sortKeyOf(item.fields[orderBy])
			if err != nil {
				return facet.Page{}, facet.Errorf(facet.EInternal, "cosmosdb: %s %s: %w", op, container, err)
			}
			hits = append(hits, h)
		}
	}

	order := func(a, b hit) int {
		c := cmp.Or(a.key.Compare(b.key), strings.Compare(a.id, b.id), strings.Compare(a.part, b.part))
		if q.Desc {
			return -c
		}
		return c
	}
	slices.SortFunc(hits, order)
	if after != nil {
		at := hit{key: after.Key, id: after.ID, part: after.Part}
		i, _ := slices.BinarySearchFunc(hits, at, order)
		for i < len(hits) && order(hits[i], at) <= 0 {
			i++
		}
		hits = hits[i:]
	}
	var page facet.Page
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[len(hits)-1]
		page.Continuation = cursor{last.key, last.id, last.part}.encode()
	}
	for _, h := range hits {
		page.Docs = append(page.Docs, h.doc)
	}
	return page, nil
}

type hit struct {
	key  facet.SortKey
	id   string
	part string
	doc  facet.Doc
}

// cond is one equality of a query's WHERE clause.
type cond struct {
	field string
	value any // string, float64 or bool
}

// selectSQL returns the query and its parameters. Field names reach the
// text only after isField has checked them; values only as parameters.
// The partition is in the WHERE clause as well as in the request's
// partition key, because the local stand-in ignores the latter in queries.
func selectSQL(pk, partition string, where []cond) (string, []azcosmos.QueryParameter) {
	var conds []string
	var params []azcosmos.QueryParameter
	if partition != "" {
		conds = append(conds, fieldRef(pk)+" = @pk")
		params = append(params, azcosmos.QueryParameter{Name: "@pk", Value: partition})
	}
	for i, c := range where {
		name := fmt.Sprintf("@p%d", i)
		conds = append(conds, fieldRef(c.field)+" = "+name)
		params = append(params, azcosmos.QueryParameter{Name: name, Value: c.value})
	}
	sql := "SELECT * FROM c"
	if len(conds) > 0 {
		sql += " WHERE " + strings.Join(conds, " AND ")
	}
	return sql, params
}

// fieldRef names a top-level field in the bracket form, which also works
// for names that are keywords of Cosmos DB's SQL (value, order, ...).
func fieldRef(f string) string { return `c["` + f + `"]` }

// checkWhere validates q's fields, values and limit, and returns the
// conditions sorted by field so that the query text is stable.
func checkWhere(op, container string, q facet.Query) ([]cond, error) {
	var where []cond
	for f, v := range q.Where {
		if !facet.IsFieldName(f) {
			return nil, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: bad field name %q", op, container, f)
		}
		nv, ok := facet.QueryScalar(v)
		if !ok {
			return nil, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: field %s: %T is not a string, number or boolean", op, container, f, v)
		}
		where = append(where, cond{f, nv})
	}
	slices.SortFunc(where, func(a, b cond) int { return strings.Compare(a.field, b.field) })
	if q.OrderBy != "" && !facet.IsFieldName(q.OrderBy) {
		return nil, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: bad order field %q", op, container, q.OrderBy)
	}
	if q.Limit < 0 {
		return nil, facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: negative limit", op, container)
	}
	return where, nil
}

// container returns the client and partition key field of a container of
// facet.Containers.
func (s *Store) container(op, container string) (*azcosmos.ContainerClient, string, error) {
	if s.err != nil {
		return nil, "", s.err
	}
	cc, ok := s.containers[container]
	if !ok {
		return nil, "", facet.Errorf(facet.EInvalid, "cosmosdb: %s: unknown container %q", op, container)
	}
	return cc, s.pkFields[container], nil
}

// checkKey checks the arguments of a call that names a document.
func (s *Store) checkKey(op, container, partition, id string) (*azcosmos.ContainerClient, error) {
	cc, _, err := s.container(op, container)
	if err != nil {
		return nil, err
	}
	return cc, checkPartitionID(op, container, partition, id)
}

// checkDoc checks a document before it is sent, so that what Cosmos DB
// would refuse (or accept but then fail to address) fails the same way as
// in the in-memory store: a JSON object of at most MaxDocSize bytes with
// a valid string id and its partition key field equal to partition.
func (s *Store) checkDoc(op, container, partition string, doc []byte) (*azcosmos.ContainerClient, string, error) {
	cc, pk, err := s.container(op, container)
	if err != nil {
		return nil, "", err
	}
	if len(doc) > MaxDocSize {
		return nil, "", facet.Errorf(facet.ETooLarge, "cosmosdb: %s %s: document of %d bytes is over %d", op, container, len(doc), MaxDocSize)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil || fields == nil {
		return nil, "", facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: document is not a JSON object", op, container)
	}
	var id, part string
	if json.Unmarshal(fields["id"], &id) != nil {
		id = ""
	}
	if err := checkPartitionID(op, container, partition, id); err != nil {
		return nil, "", err
	}
	if json.Unmarshal(fields[pk], &part) != nil || part != partition {
		return nil, "", facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: document's %s is not its partition", op, container, pk)
	}
	return cc, id, nil
}

// checkPartitionID refuses an empty partition (Query reads "" as "all")
// and an id that is empty, over 255 bytes, or holds / \ ? #, which Cosmos
// DB refuses or cannot address in an item's URL.
func checkPartitionID(op, container, partition, id string) error {
	switch {
	case partition == "":
		return facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: empty partition", op, container)
	case id == "":
		return facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: no id", op, container)
	case len(id) > 255:
		return facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: id over 255 bytes", op, container)
	case strings.ContainsAny(id, `/\?#`):
		return facet.Errorf(facet.EInvalid, "cosmosdb: %s %s: id holds one of / \\ ? #", op, container)
	}
	return nil
}

// item is a document as the service returned it, without system
// properties.
type item struct {
	json   []byte
	etag   string
	fields map[string]json.RawMessage
}

// classify turns an azcosmos error into the port's codes, once, here:
// 404 not found; 409 (id taken) and 412 (ETag changed) conflict; 413 too
// large; 408, 429, 449, 5xx and any failure without a response (network,
// timeout, cancellation) unavailable; anything else internal. The message
// holds the status, not the service's body, which may echo internals.
func classify(err error, op, name string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return &facet.Error{Code: facet.EUnavailable, Message: fmt.Sprintf("cosmosdb: %s %s: %v", op, name, err), Err: err}
	}
	code := facet.EInternal
	switch s := re.StatusCode; {
	case s == http.StatusNotFound:
		code = facet.ENotFound
	case s == http.StatusConflict, s == http.StatusPreconditionFailed:
		code = facet.EConflict
	case s == http.StatusRequestEntityTooLarge:
		code = facet.ETooLarge
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s == 449, s >= 500:
		code = facet.EUnavailable
	}
	msg := fmt.Sprintf("cosmosdb: %s %s: %d %s", op, name, re.StatusCode, http.StatusText(re.StatusCode))
	if re.ErrorCode != "" && !strings.HasPrefix(re.ErrorCode, strconv.Itoa(re.StatusCode)) {
		msg += " (" + re.ErrorCode + ")"
	}
	return &facet.Error{Code: code, Message: msg, Err: err}
}

func hasStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

func sortKeyOf(raw json.RawMessage) (facet.SortKey, error) {
	if raw == nil {
		return facet.SortKey{}, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return facet.SortKey{}, err
	}
	return facet.SortKeyOf(v, true), nil
}

// cursor is the position after which the next page of a scan starts.
// Continuing after a position rather than at an offset means writes
// between pages neither repeat nor skip the documents that stay.
type cursor struct {
	Key  facet.SortKey `json:"k"`
	ID   string        `json:"i"`
	Part string        `json:"p"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return tokenScan + base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	t, ok := strings.CutPrefix(s, tokenScan)
	if !ok {
		return cursor{}, errors.New("not a scan token")
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return cursor{}, err
	}
	var c cursor
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return cursor{}, err
	}
	if c.ID == "" || c.Part == "" {
		return cursor{}, errors.New("incomplete cursor")
	}
	return c, nil
}
