package app

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/humaninsight/facet"
)

// NewClient is the operator's request to register a client.
type NewClient struct {
	Company      string             `json:"company"`
	Contact      facet.Contact      `json:"contact"`
	Demographics facet.Demographics `json:"demographics"`
	DPAVersion   string             `json:"dpaVersion"`
}

var (
	emailPattern   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

func (n NewClient) validate() error {
	for _, f := range []struct {
		name, value string
		max         int
		required    bool
	}{
		{"company", n.Company, 200, true},
		{"contact.name", n.Contact.Name, 200, true},
		{"contact.phone", n.Contact.Phone, 40, false},
		{"demographics.sector", n.Demographics.Sector, 100, false},
		{"demographics.size", n.Demographics.Size, 40, false},
		{"dpaVersion", n.DPAVersion, 40, true},
	} {
		if err := facet.CheckText(f.name, f.value, f.max, f.required); err != nil {
			return err
		}
	}
	switch {
	case !emailPattern.MatchString(n.Contact.Email) || len(n.Contact.Email) > 254 || facet.CheckText("", n.Contact.Email, 254, true) != nil:
		return facet.Errorf(facet.EInvalid, "contact.email: not an e-mail address")
	case !countryPattern.MatchString(n.Demographics.Country):
		return facet.Errorf(facet.EInvalid, "demographics.country: an ISO 3166-1 alpha-2 code such as DE")
	}
	return nil
}

// CreateClient registers a client. With withKey it returns the client's
// first API key, which is shown this once (only its hash is stored);
// without, "" (a client whose owner is invited makes its own keys: a key
// nobody asked for would be a live credential nobody looks after).
func (a *App) CreateClient(ctx context.Context, n NewClient, withKey bool) (*facet.Client, string, error) {
	if err := n.validate(); err != nil {
		return nil, "", err
	}
	now := a.now()
	c := &facet.Client{
		ID: newID("cl"), Company: n.Company, Contact: n.Contact, Demographics: n.Demographics,
		DPA: facet.DPA{Version: n.DPAVersion, AcceptedAt: now}, CreatedAt: now, Keys: []facet.KeyInfo{},
	}
	key := ""
	if withKey {
		var info facet.KeyInfo
		key, info = a.newKey("first key")
		c.Keys = append(c.Keys, info)
		// The key first: a client without a key is harmless, a key without
		// a client answers 401 like any unknown key.
		if _, err := create(ctx, a.Store, facet.CAPIKeys, info.Hash, facet.APIKey{ID: info.Hash, ClientID: c.ID, CreatedAt: now}); err != nil {
			return nil, "", err
		}
	}
	etag, err := create(ctx, a.Store, facet.CClients, c.ID, c)
	if err != nil {
		return nil, "", err
	}
	c.ETag = etag
	a.Log.Info("client created", "client", c.ID)
	return c, key, nil
}

// newKey makes an API key and its description.
func (a *App) newKey(name string) (string, facet.KeyInfo) {
	key := newSecret("fk_", 32)
	return key, facet.KeyInfo{ID: newID("ak"), Name: name, Prefix: key[:7], Hash: hashHex(key), CreatedAt: a.now()}
}

// Authenticate returns the client owning key; EUnauthorized otherwise.
func (a *App) Authenticate(ctx context.Context, key string) (*facet.Client, error) {
	if !strings.HasPrefix(key, "fk_") || len(key) > 100 {
		return nil, facet.Errorf(facet.EUnauthorized, "missing or invalid API key")
	}
	k, _, err := get[facet.APIKey](ctx, a.Store, facet.CAPIKeys, hashHex(key), hashHex(key))
	if isCode(err, facet.ENotFound) {
		return nil, facet.Errorf(facet.EUnauthorized, "missing or invalid API key")
	}
	if err != nil {
		return nil, err
	}
	c, err := a.Client(ctx, k.ClientID)
	if isCode(err, facet.ENotFound) {
		return nil, facet.Errorf(facet.EUnauthorized, "missing or invalid API key")
	}
	return c, err
}

// Client returns a client by id.
func (a *App) Client(ctx context.Context, id string) (*facet.Client, error) {
	if !facet.ValidID(id) {
		return nil, notFound("client")
	}
	c, etag, err := get[facet.Client](ctx, a.Store, facet.CClients, id, id)
	if err != nil {
		return nil, asNotFound(err, "client")
	}
	c.ETag = etag
	return c, nil
}

// Clients lists the clients, for the operator.
func (a *App) Clients(ctx context.Context, limit int, cont string) ([]facet.Client, string, error) {
	return query[facet.Client](ctx, a.Store, facet.CClients, facet.Query{Limit: limit, Continuation: cont})
}

// CreateKey gives the client another API key, named name, and returns it:
// it is shown this once. The client's other keys keep working.
func (a *App) CreateKey(ctx context.Context, c *facet.Client, name string, by *facet.Account) (string, facet.KeyInfo, error) {
	if err := facet.CheckText("name", name, 100, false); err != nil {
		return "", facet.KeyInfo{}, err
	}
	if len(c.Keys) >= facet.MaxKeys {
		return "", facet.KeyInfo{}, facet.Errorf(facet.EConflict, "a client has at most %d API keys: revoke one first", facet.MaxKeys)
	}
	key, info := a.newKey(cmp.Or(name, "API key"))
	if _, err := create(ctx, a.Store, facet.CAPIKeys, info.Hash, facet.APIKey{ID: info.Hash, ClientID: c.ID, CreatedAt: info.CreatedAt}); err != nil {
		return "", facet.KeyInfo{}, err
	}
	c.Keys = append(c.Keys, info)
	etag, err := replace(ctx, a.Store, facet.CClients, c.ID, c, c.ETag)
	if err != nil {
		a.Store.Delete(ctx, facet.CAPIKeys, info.Hash, info.Hash, "")
		return "", facet.KeyInfo{}, err
	}
	c.ETag = etag
	a.security(ctx, c.ID, by, "key-created", info.ID, "")
	return key, info, nil
}

// RevokeKey ends one of the client's API keys at once.
func (a *App) RevokeKey(ctx context.Context, c *facet.Client, id string, by *facet.Account) error {
	i := slices.IndexFunc(c.Keys, func(k facet.KeyInfo) bool { return k.ID == id })
	if i < 0 {
		return notFound("API key")
	}
	k := c.Keys[i]
	if err := a.Store.Delete(ctx, facet.CAPIKeys, k.Hash, k.Hash, ""); err != nil && !isCode(err, facet.ENotFound) {
		return err
	}
	c.Keys = slices.Delete(c.Keys, i, i+1)
	etag, err := replace(ctx, a.Store, facet.CClients, c.ID, c, c.ETag)
	if err != nil {
		return err
	}
	c.ETag = etag
	a.security(ctx, c.ID, by, "key-revoked", k.ID, "")
	return nil
}

// ClientPatch changes a client's details; nil fields stay.
type ClientPatch struct {
	Company      *string             `json:"company"`
	Contact      *facet.Contact      `json:"contact"`
	Demographics *facet.Demographics `json:"demographics"`
}

// UpdateClient changes the client's company, contact and demographic
// details, which its owner keeps up to date.
func (a *App) UpdateClient(ctx context.Context, c *facet.Client, p ClientPatch) error {
	n := NewClient{Company: c.Company, Contact: c.Contact, Demographics: c.Demographics, DPAVersion: c.DPA.Version}
	if p.Company != nil {
		n.Company = *p.Company
	}
	if p.Contact != nil {
		n.Contact = *p.Contact
	}
	if p.Demographics != nil {
		n.Demographics = *p.Demographics
	}
	if err := n.validate(); err != nil {
		return err
	}
	c.Company, c.Contact, c.Demographics = n.Company, n.Contact, n.Demographics
	etag, err := replace(ctx, a.Store, facet.CClients, c.ID, c, c.ETag)
	if err != nil {
		return err
	}
	c.ETag = etag
	return nil
}
