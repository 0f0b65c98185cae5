package metadata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Addr is where a guest finds its metadata server.
const Addr = "169.254.169.254"

// Instance is what the metadata server says of the instance it serves.
type Instance struct {
	Name, Zone, Project string
	ProjectNumber       uint64
	ID                  uint64
	IP                  string
}

// Handler is the metadata server of one instance, as a guest at 169.254.169.254 sees it:
// /computeMetadata/v1/… with the Metadata-Flavor: Google header (403 without it, or with
// X-Forwarded-For), an ETag on every answer, and ?wait_for_change=true&last_etag=E
// (&timeout_sec=N) that answers once the value differs from E or the time is up.
func (s *Store) Handler(inst Instance) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Server", "Metadata Server for VM")
		if r.Header.Get("Metadata-Flavor") != "Google" || r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		path, ok := strings.CutPrefix(r.URL.Path, "/computeMetadata/v1/")
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if gpath, ok := strings.CutPrefix(path, "instance/guest-attributes/"); ok && r.Method != http.MethodGet {
			s.guestWrite(w, r, inst, gpath)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		recursive := q.Get("recursive") == "true"
		if q.Get("wait_for_change") != "true" {
			s.answer(w, inst, path, recursive)
			return
		}
		timeout := 300 * time.Second
		if v := q.Get("timeout_sec"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				http.Error(w, "timeout_sec: want a whole number of seconds ≥ 1", http.StatusBadRequest)
				return
			}
			timeout = time.Duration(n) * time.Second
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		last := q.Get("last_etag")
		for {
			ch := s.watch()
			body, _, _ := s.render(inst, path, recursive)
			if etag(body) != last || last == "" {
				break
			}
			select {
			case <-ch:
				continue
			case <-ctx.Done():
			}
			break
		}
		if r.Context().Err() != nil {
			return
		}
		s.answer(w, inst, path, recursive)
	})
}

func etag(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:8])
}

func (s *Store) answer(w http.ResponseWriter, inst Instance, path string, recursive bool) {
	body, ctype, code := s.render(inst, path, recursive)
	if code != http.StatusOK {
		http.Error(w, body, code)
		return
	}
	w.Header().Set("ETag", etag(body))
	w.Header().Set("Content-Type", ctype)
	_, _ = io.WriteString(w, body)
}

// render is the value at path: text, or JSON for recursive directories.
func (s *Store) render(inst Instance, path string, recursive bool) (string, string, int) {
	const text, js = "application/text", "application/json"
	items, _ := s.Metadata(inst.Name)
	switch path {
	case "instance/name":
		return inst.Name, text, http.StatusOK
	case "instance/hostname":
		return fmt.Sprintf("%s.%s.c.%s.internal", inst.Name, inst.Zone, inst.Project), text, http.StatusOK
	case "instance/id":
		return strconv.FormatUint(inst.ID, 10), text, http.StatusOK
	case "instance/zone":
		return fmt.Sprintf("projects/%d/zones/%s", inst.ProjectNumber, inst.Zone), text, http.StatusOK
	case "instance/network-interfaces/0/ip":
		return inst.IP, text, http.StatusOK
	case "project/project-id":
		return inst.Project, text, http.StatusOK
	case "project/numeric-project-id":
		return strconv.FormatUint(inst.ProjectNumber, 10), text, http.StatusOK
	case "instance/service-accounts/default/token":
		// The lab's APIs take no credentials; a guest's client still asks for a token.
		b, _ := json.Marshal(map[string]any{"access_token": "lab-token-" + inst.Name, "expires_in": 3599, "token_type": "Bearer"})
		return string(b), js, http.StatusOK
	case "instance/attributes", "instance/attributes/":
		if recursive {
			m := map[string]string{}
			for _, it := range items {
				m[it.Key] = it.Value
			}
			b, _ := json.Marshal(m)
			return string(b), js, http.StatusOK
		}
		var b strings.Builder
		for _, it := range items {
			b.WriteString(it.Key + "\n")
		}
		return b.String(), text, http.StatusOK
	}
	if key, ok := strings.CutPrefix(path, "instance/attributes/"); ok {
		for _, it := range items {
			if it.Key == key {
				return it.Value, text, http.StatusOK
			}
		}
		return "metadata key " + key + " not found", text, http.StatusNotFound
	}
	if gpath, ok := strings.CutPrefix(path, "instance/guest-attributes/"); ok {
		entries := s.Guest(inst.Name, gpath)
		ns, key, _ := strings.Cut(strings.Trim(gpath, "/"), "/")
		if key != "" {
			for _, e := range entries {
				if e.Namespace == ns && e.Key == key {
					return e.Value, text, http.StatusOK
				}
			}
			return "guest attribute " + gpath + " not found", text, http.StatusNotFound
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.Key + "\n")
		}
		return b.String(), text, http.StatusOK
	}
	return "not found: " + path, text, http.StatusNotFound
}

// guestWrite serves PUT and DELETE of instance/guest-attributes/NAMESPACE/KEY.
func (s *Store) guestWrite(w http.ResponseWriter, r *http.Request, inst Instance, gpath string) {
	ns, key, ok := strings.Cut(gpath, "/")
	if !ok || key == "" {
		http.Error(w, "want instance/guest-attributes/NAMESPACE/KEY", http.StatusBadRequest)
		return
	}
	var value string
	switch r.Method {
	case http.MethodPut:
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxGuestValue+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		value = string(b)
	case http.MethodDelete:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	err := s.PutGuest(inst.Name, ns, key, value, r.Method == http.MethodDelete)
	switch err.(type) {
	case nil:
		w.WriteHeader(http.StatusOK)
	case *InvalidError:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		if err == ErrGuestDisabled {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
