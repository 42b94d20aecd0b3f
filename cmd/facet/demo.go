package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/localstack"
)

// cmdDemo runs the product's main story on the local stack and stops it:
// a privacy-by-design project whose video is analysed and then deleted,
// and a closed project whose videos go with it.
func cmdDemo(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("demo takes no arguments")
	}
	root, err := projectRoot()
	if err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	say("== facet demo: the local stack (Azurite, Cosmos DB and Service Bus stand-ins, handler, host stand-in)")
	paths := localstack.Paths{Root: root}
	dir, err := os.MkdirTemp("", "facet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	az, err := paths.Azurite(0, dir)
	if err != nil {
		return err
	}
	defer az.Stop()
	cs, err := paths.Cosmos(0)
	if err != nil {
		return err
	}
	defer cs.Stop()
	sb, err := paths.ServiceBus(0, 10, time.Minute)
	if err != nil {
		return err
	}
	defer sb.Stop()
	cfg.StorageConnString, cfg.StorageAccountURL = localstack.BlobConnectionString(az.Port), ""
	cfg.CosmosEndpoint, cfg.CosmosKey = localstack.CosmosEndpoint(cs.Port), localstack.CosmosKey
	cfg.ServiceBusConn, cfg.ServiceBusFQDN = localstack.ServiceBusConnectionString(sb.Port), ""
	cfg.CreateResources, cfg.AdminKey = true, "demo-admin-key"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := startLocalHost(ctx, cfg, root, "127.0.0.1:0", fmt.Sprintf("http://127.0.0.1:%d/%s", az.Port, localstack.AzuriteAccount), 0, log)
	if err != nil {
		return err
	}
	defer l.Close()
	d := &demo{ctx: ctx, base: l.URL}

	client, err := d.call("POST", "/api/clients", "admin", map[string]any{
		"company": "Demo Research", "contact": map[string]any{"name": "Dana Demo", "email": "dana@demo.example"},
		"demographics": map[string]any{"country": "DE"}, "dpaVersion": "2026-01"})
	if err != nil {
		return err
	}
	d.key = client["apiKey"].(string)
	say("client %s registered (API key shown once, stored as a hash)", client["id"])

	pbd, err := d.call("POST", "/api/projects", "", map[string]any{"name": "Privacy-by-design study", "privacyMode": "delete-after-analysis", "useContext": "media-testing"})
	if err != nil {
		return err
	}
	say("project %s: privacyMode delete-after-analysis", pbd["id"])
	inv, err := d.call("POST", "/api/projects/"+pbd["id"].(string)+"/invitations", "", map[string]any{"participantRef": "P-001"})
	if err != nil {
		return err
	}
	say("invitation link for the participant: %s", inv["url"])
	token := inv["token"].(string)
	pub, err := d.call("GET", "/api/invitations/"+token, "-", nil)
	if err != nil {
		return err
	}
	slot, err := d.call("POST", "/api/invitations/"+token+"/consent", "-", map[string]any{"accept": true, "consentVersion": pub["consentVersion"]})
	if err != nil {
		return err
	}
	rec := slot["recordingId"].(string)
	say("participant consented (consent version %s); upload link: create-only, one blob, until %s", pub["consentVersion"], slot["expiresAt"])
	video, err := os.ReadFile(filepath.Join(root, "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		return err
	}
	if err := d.put(slot["uploadUrl"].(string), video); err != nil {
		return err
	}
	say("uploaded testdata/media/synthetic_faces_640x480.mp4 (%d bytes) straight to Blob Storage", len(video))
	r, err := d.wait(rec, func(r map[string]any) bool {
		v, _ := r["video"].(map[string]any)
		return r["status"] == "analyzed" && v["present"] == false
	})
	if err != nil {
		return err
	}
	an := r["analyses"].([]any)[0].(map[string]any)
	var sum facet.Summary
	b, _ := json.Marshal(an["summary"])
	json.Unmarshal(b, &sum)
	say("analysis %s done; what is kept is metadata like this (no image, no name):", an["id"])
	say("  %d frames, face in %.0f%%, dominant: happy %.0f%% neutral %.0f%%, mean valence %+.2f, age ~%.0f, gender %s (%.2f)",
		sum.Frames, 100*float64(sum.FaceRatio), 100*sum.Dominant[facet.Happy], 100*sum.Dominant[facet.Neutral],
		float64(*sum.ValenceMean), float64(sum.Age.Median), sum.Gender.Label, float64(sum.Gender.Confidence))
	v := r["video"].(map[string]any)
	say("video deleted at %s, reason %s", v["deletedAt"], v["deletionReason"])
	audit, err := d.call("GET", "/api/projects/"+pbd["id"].(string)+"/audit", "", nil)
	if err != nil {
		return err
	}
	entries, _ := json.Marshal(audit["items"])
	say("audit entry (proof of deletion, no personal data): %s", entries)

	second, err := d.call("POST", "/api/projects", "", map[string]any{"name": "Closing study", "privacyMode": "retain", "useContext": "market-research"})
	if err != nil {
		return err
	}
	pid := second["id"].(string)
	var recs []string
	for i := 0; i < 2; i++ {
		s, err := d.call("POST", "/api/projects/"+pid+"/recordings", "", map[string]any{
			"participantRef": fmt.Sprintf("Q-%03d", i+1), "consent": map[string]any{"obtainedAt": time.Now().Add(-time.Hour), "method": "signed-form"}})
		if err != nil {
			return err
		}
		if err := d.put(s["uploadUrl"].(string), video); err != nil {
			return err
		}
		recs = append(recs, s["recordingId"].(string))
	}
	for _, id := range recs {
		if _, err := d.wait(id, func(r map[string]any) bool { return r["status"] == "analyzed" }); err != nil {
			return err
		}
	}
	say("project %s (retain): 2 recordings analysed, videos kept", pid)
	out := filepath.Join(root, ".cache", "demo")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"report", "export.csv", "export.json"} {
		p := filepath.Join(out, strings.Replace(f, "report", "report.html", 1))
		n, err := d.save("/api/projects/"+pid+"/"+f, p)
		if err != nil {
			return err
		}
		say("  %s: %s (%d bytes)", f, p, n)
	}
	if _, err := d.call("POST", "/api/projects/"+pid+"/close", "", nil); err != nil {
		return err
	}
	say("project closed: deletion of its videos scheduled at close + grace (0 s)")
	for _, id := range recs {
		r, err := d.wait(id, func(r map[string]any) bool { return r["video"].(map[string]any)["present"] == false })
		if err != nil {
			return err
		}
		say("  %s: video deleted (%s)", id, r["video"].(map[string]any)["deletionReason"])
	}
	n := 0
	if err := l.Deps.Blobs.List(ctx, "", func(facet.BlobInfo) error { n++; return nil }); err != nil {
		return err
	}
	say("blobs left in the uploads container: %d", n)
	say("== demo done: stopping the local stack")
	return nil
}

type demo struct {
	ctx  context.Context
	base string
	key  string
}

// call sends a request (key "" = the client's key, "admin", or "-" for
// none) and decodes a 2xx JSON answer.
func (d *demo) call(method, path, key string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch key {
	case "admin":
		req.Header.Set("X-Admin-Key", "demo-admin-key")
	case "":
		req.Header.Set("Authorization", "Bearer "+d.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("demo: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("demo: %s %s: %w", method, path, err)
	}
	return out, nil
}

// save writes the client's GET of path to the file p.
func (d *demo) save(path, p string) (int64, error) {
	req, err := http.NewRequestWithContext(d.ctx, "GET", d.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("demo: GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func (d *demo) put(url string, data []byte) error {
	req, err := http.NewRequestWithContext(d.ctx, "PUT", url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("demo: upload: %s", resp.Status)
	}
	return nil
}

// wait polls a recording until ok, for up to two minutes.
func (d *demo) wait(id string, ok func(map[string]any) bool) (map[string]any, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := d.call("GET", "/api/recordings/"+id, "", nil)
		if err != nil {
			return nil, err
		}
		if ok(r) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("demo: recording %s: still %v after 2 minutes", id, r["status"])
		}
		select {
		case <-d.ctx.Done():
			return nil, d.ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
