// referrers-registry: go-containerregistry's registry (pkg/registry, in memory) with the OCI 1.1
// referrers API turned on, for the tests: the registry our referrers code meets besides
// Distribution 2.8, which has no such API. It listens on -addr (port 0: one the system picks),
// prints "listening on HOST:PORT" once it accepts connections, and logs every request to
// stderr as "METHOD URL", so a test can tell which path a client took.
//
// Two corrections, where go-containerregistry v0.22.1 departs from distribution-spec 1.1 (both
// off with -conformant=false, to see how clients cope with it as it is):
//   - A PUT of a manifest with a subject is answered with the OCI-Subject header, which tells a
//     client that the registry indexed it (oras-go falls back to the referrers tag schema without it).
//   - A referrer's artifactType in the referrers API's answers is the manifest's artifactType
//     where it has one, not always config.mediaType (every artifact oras writes has the empty
//     config, so every referrer would show as application/vnd.oci.empty.v1+json).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"

	"github.com/google/go-containerregistry/pkg/registry"
)

var (
	referrersPath = regexp.MustCompile(`^/v2/(.+)/referrers/[^/]+$`)
	manifestsPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	conformant := flag.Bool("conformant", true, "correct go-containerregistry where it departs from distribution-spec 1.1")
	flag.Parse()
	logger := log.New(os.Stderr, "", 0)
	handler := registry.New(registry.WithReferrersSupport(true), registry.Logger(logger))
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Fatal(err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	if *conformant {
		handler = withSubjectHeader(withArtifactTypes(handler))
	}
	logger.Fatal(http.Serve(listener, handler))
}

// withArtifactTypes corrects the artifactType of each referrer in the referrers API's answers.
func withArtifactTypes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := referrersPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodGet || name == nil {
			next.ServeHTTP(w, r)
			return
		}
		answer := httptest.NewRecorder()
		next.ServeHTTP(answer, r)
		var index map[string]any
		if answer.Code != http.StatusOK || json.Unmarshal(answer.Body.Bytes(), &index) != nil {
			copyAnswer(w, answer.Code, answer.Header(), answer.Body.Bytes())
			return
		}
		manifests, _ := index["manifests"].([]any)
		for _, entry := range manifests {
			descriptor, _ := entry.(map[string]any)
			if artifactType := manifestArtifactType(next, name[1], descriptor["digest"]); artifactType != "" {
				descriptor["artifactType"] = artifactType
			}
		}
		body, _ := json.Marshal(index)
		header := answer.Header()
		header.Set("Content-Length", fmt.Sprint(len(body)))
		copyAnswer(w, answer.Code, header, body)
	})
}

// withSubjectHeader answers the PUT of a manifest that has a subject with OCI-Subject: its digest.
func withSubjectHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !manifestsPath.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer := httptest.NewRecorder()
		next.ServeHTTP(answer, r)
		var manifest struct {
			Subject *struct {
				Digest string `json:"digest"`
			} `json:"subject"`
		}
		if json.Unmarshal(body, &manifest) == nil && manifest.Subject != nil && answer.Code == http.StatusCreated {
			answer.Header().Set("OCI-Subject", manifest.Subject.Digest)
		}
		copyAnswer(w, answer.Code, answer.Header(), answer.Body.Bytes())
	})
}

// manifestArtifactType reads a manifest of the repository from the registry itself.
func manifestArtifactType(registry http.Handler, repository string, digest any) string {
	answer := httptest.NewRecorder()
	registry.ServeHTTP(answer, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v2/%s/manifests/%v", repository, digest), nil))
	var manifest struct {
		ArtifactType string `json:"artifactType"`
	}
	json.Unmarshal(answer.Body.Bytes(), &manifest)
	return manifest.ArtifactType
}

func copyAnswer(w http.ResponseWriter, code int, header http.Header, body []byte) {
	for key, values := range header {
		w.Header()[key] = values
	}
	w.WriteHeader(code)
	w.Write(body)
}
