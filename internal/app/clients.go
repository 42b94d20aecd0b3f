package app

import (
	"context"
	"regexp"
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

// CreateClient registers a client and returns it with its API key, which
// is shown this once: only its hash is stored.
func (a *App) CreateClient(ctx context.Context, n NewClient) (*facet.Client, string, error) {
	if err := n.validate(); err != nil {
		return nil, "", err
	}
	now := a.now()
	c := &facet.Client{
		ID: newID("cl"), Company: n.Company, Contact: n.Contact, Demographics: n.Demographics,
		DPA: facet.DPA{Version: n.DPAVersion, AcceptedAt: now}, CreatedAt: now,
	}
	key := newSecret("fk_", 32)
	c.KeyHash = hashHex(key)
	// The key first: a client without a key is harmless, a key without a
	// client answers 401 like any unknown key.
	if _, err := create(ctx, a.Store, facet.CAPIKeys, c.KeyHash, facet.APIKey{ID: c.KeyHash, ClientID: c.ID, CreatedAt: now}); err != nil {
		return nil, "", err
	}
	etag, err := create(ctx, a.Store, facet.CClients, c.ID, c)
	if err != nil {
		return nil, "", err
	}
	c.ETag = etag
	a.Log.Info("client created", "client", c.ID)
	return c, key, nil
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

// RotateKey gives the client a new API key and revokes the old one.
func (a *App) RotateKey(ctx context.Context, c *facet.Client) (string, error) {
	key := newSecret("fk_", 32)
	h := hashHex(key)
	if _, err := create(ctx, a.Store, facet.CAPIKeys, h, facet.APIKey{ID: h, ClientID: c.ID, CreatedAt: a.now()}); err != nil {
		return "", err
	}
	old := c.KeyHash
	c.KeyHash = h
	etag, err := replace(ctx, a.Store, facet.CClients, c.ID, c, c.ETag)
	if err != nil {
		a.Store.Delete(ctx, facet.CAPIKeys, h, h, "")
		return "", err
	}
	c.ETag = etag
	if err := a.Store.Delete(ctx, facet.CAPIKeys, old, old, ""); err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	a.Log.Info("api key rotated", "client", c.ID)
	return key, nil
}
