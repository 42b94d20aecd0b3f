package handlers

import (
	"net/http"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// Clients, their teams and API keys; the operator's clients and
// invitations; signing up from an invitation's e-mail.

type memberView struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      facet.Role `json:"role"`
	CreatedAt time.Time  `json:"createdAt"`
	TOTP      bool       `json:"totp"`
}

func viewMember(a *facet.Account) memberView {
	return memberView{a.ID, a.Email, a.Name, a.Role, a.CreatedAt, a.SecondFactor()}
}

type inviteView struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Role      facet.Role `json:"role"`
	ClientID  *string    `json:"clientId"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
}

func viewInvite(t *facet.TeamInvite) inviteView {
	v := inviteView{ID: t.Ref, Email: t.Email, Role: t.Role, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
	if t.ClientID != "" {
		v.ClientID = &t.ClientID
	}
	return v
}

type keyView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"createdAt"`
	APIKey    string    `json:"apiKey,omitempty"`
}

func viewKey(k facet.KeyInfo) keyView { return keyView{k.ID, k.Name, k.Prefix, k.CreatedAt, ""} }

// createClient registers a client; with owner, its first owner is
// invited by e-mail.
func (h *Handler) createClient(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in struct {
		app.NewClient
		Owner *struct {
			Email string `json:"email"`
		} `json:"owner"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	// The owner's address is checked first: a refusal leaves no client
	// behind for a retry to duplicate.
	if in.Owner != nil {
		if err := h.App.CheckInvitee(r.Context(), in.Owner.Email); err != nil {
			return err
		}
	}
	c, key, err := h.App.CreateClient(r.Context(), in.NewClient, in.Owner == nil)
	if err != nil {
		return err
	}
	out := map[string]any{"id": c.ID, "company": c.Company, "createdAt": c.CreatedAt}
	if key != "" {
		out["apiKey"] = key
	}
	if in.Owner != nil {
		inv, err := h.App.Invite(r.Context(), c.ID, actor(r), in.Owner.Email, facet.RoleOwner)
		if err != nil {
			return err
		}
		out["ownerInvitation"] = viewInvite(inv)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	limit, cont, err := page(r)
	if err != nil {
		return err
	}
	cs, next, err := h.App.Clients(r.Context(), limit, cont)
	if err != nil {
		return err
	}
	items := make([]clientView, 0, len(cs))
	for i := range cs {
		items = append(items, viewClient(&cs[i]))
	}
	list(w, items, next)
	return nil
}

func (h *Handler) patchMe(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	var in app.ClientPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.App.UpdateClient(r.Context(), c, in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewClient(c))
	return nil
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	items := make([]keyView, 0, len(c.Keys))
	for _, k := range c.Keys {
		items = append(items, viewKey(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "continuationToken": nil})
	return nil
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	key, info, err := h.App.CreateKey(r.Context(), c, in.Name, actor(r))
	if err != nil {
		return err
	}
	v := viewKey(info)
	v.APIKey = key
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.RevokeKey(r.Context(), c, r.PathValue("id"), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getTeam(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	members, invs, err := h.App.Team(r.Context(), c.ID)
	if err != nil {
		return err
	}
	mv := make([]memberView, 0, len(members))
	for i := range members {
		mv = append(mv, viewMember(&members[i]))
	}
	iv := make([]inviteView, 0, len(invs))
	for i := range invs {
		iv = append(iv, viewInvite(&invs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": mv, "invitations": iv, "continuationToken": nil})
	return nil
}

type inviteBody struct {
	Email string     `json:"email"`
	Role  facet.Role `json:"role"`
}

// invite answers an invitation made for clientID ("" for operators).
func (h *Handler) invite(w http.ResponseWriter, r *http.Request, clientID string, fixed facet.Role) error {
	var in inviteBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if fixed != "" {
		if in.Role != "" && in.Role != fixed {
			return facet.Errorf(facet.EInvalid, "role: %s, or leave it out", fixed)
		}
		in.Role = fixed
	}
	inv, err := h.App.Invite(r.Context(), clientID, actor(r), in.Email, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewInvite(inv))
	return nil
}

func (h *Handler) inviteMember(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	return h.invite(w, r, c.ID, "")
}

func (h *Handler) inviteOwner(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	c, err := h.App.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.invite(w, r, c.ID, facet.RoleOwner)
}

func (h *Handler) inviteOperator(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	return h.invite(w, r, "", facet.RoleOperator)
}

func (h *Handler) patchMember(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	var in struct {
		Role facet.Role `json:"role"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	acc, err := h.App.SetRole(r.Context(), c.ID, actor(r), r.PathValue("id"), in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewMember(acc))
	return nil
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	if err := h.App.RemoveMember(r.Context(), c.ID, actor(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) signUpInfo(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	info, err := h.App.SignUpInfo(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (h *Handler) signUp(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in app.NewMember
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s, err := h.App.SignUp(r.Context(), r.PathValue("token"), in, r.UserAgent())
	if err != nil {
		return err
	}
	setSession(w, s)
	return nil
}

func (h *Handler) getMe(w http.ResponseWriter, r *http.Request, c *facet.Client) error {
	writeJSON(w, http.StatusOK, viewClient(c))
	return nil
}
