package registrytest

import (
	"crypto/subtle"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
)

// Start serves a registry on loopback (httptest's listener) over TLS with a certificate ca signed, answering only
// requests that log in as user with password (401 otherwise). With requireClientCert, clients
// must also present a certificate ca signed. It returns the https:// URL; the server stops when
// the test ends.
func Start(t testing.TB, ca *tlstest.CA, user, password string, requireClientCert bool) string {
	t.Helper()
	registry := srfake.NewRegistry()
	srv := httptest.NewUnstartedServer(basicAuth(registry.Handler(), user, password))
	srv.TLS = ca.ServerConfig(requireClientCert)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what tests try
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func basicAuth(next http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
