package connect_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/registrytest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
)

const (
	registryUser     = "registry-key"
	registryPassword = "registry-pw-a9d0"
)

func TestRegistryLogins(t *testing.T) {
	ca := tlstest.NewCA(t, "registry")
	client := ca.Issue("loyaltyhooks")
	url := registrytest.Start(t, ca, registryUser, registryPassword, true)
	passwordFile := filepath.Join(t.TempDir(), "registry-password")
	writeSecret(t, passwordFile, registryPassword)
	tlsKeys := config.RegistryTLS{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}
	ctx := context.Background()
	for name, c := range map[string]config.SchemaRegistry{
		"keys":            {URL: url, Username: registryUser, Password: registryPassword},
		"password file":   {URL: url, Username: registryUser, PasswordFile: passwordFile},
		"user in the URL": {URL: strings.Replace(url, "https://", "https://"+registryUser+":"+registryPassword+"@", 1)},
	} {
		c.TLS = tlsKeys
		cl, err := connect.Registry(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := connect.CheckRegistry(ctx, cl, c); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		schema := sr.Schema{Schema: `{"type":"string"}`, Type: sr.TypeAvro}
		if _, err := cl.CreateSchema(ctx, "s-value", schema); err != nil {
			t.Errorf("%s: register a schema: %v", name, err)
		}
	}
}

func TestRegistryCheckExplains(t *testing.T) {
	ca := tlstest.NewCA(t, "registry")
	client := ca.Issue("loyaltyhooks")
	other := tlstest.NewCA(t, "other")
	url := registrytest.Start(t, ca, registryUser, registryPassword, true)
	withWrong := strings.Replace(url, "https://", "https://"+registryUser+":"+wrongPassword+"@", 1)
	tlsKeys := config.RegistryTLS{CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}
	cases := []struct {
		name string
		c    config.SchemaRegistry
		want []string
	}{
		{"wrong password", config.SchemaRegistry{URL: url, Username: registryUser, Password: wrongPassword, TLS: tlsKeys},
			[]string{"schema registry " + url + ": HTTP 401: Unauthorized", "check schemaRegistry.username and schemaRegistry.password"}},
		{"wrong password in the URL", config.SchemaRegistry{URL: withWrong, TLS: tlsKeys},
			[]string{"https://registry-key:[redacted]@", "HTTP 401"}},
		{"unknown CA", config.SchemaRegistry{URL: url, Username: registryUser, Password: registryPassword,
			TLS: config.RegistryTLS{CAFile: other.File, CertFile: client.CertFile, KeyFile: client.KeyFile}},
			[]string{"schema registry " + url, "certificate signed by unknown authority", "schemaRegistry.tls.caFile"}},
		{"no client certificate", config.SchemaRegistry{URL: url, Username: registryUser, Password: registryPassword,
			TLS: config.RegistryTLS{CAFile: ca.File}},
			[]string{"schema registry " + url, "schemaRegistry.tls.certFile"}},
	}
	ctx := context.Background()
	for _, tc := range cases {
		cl, err := connect.Registry(tc.c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = connect.CheckRegistry(ctx, cl, tc.c)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, want)
			}
		}
		assertNoSecret(t, tc.name, err.Error(), registryPassword, wrongPassword)
	}
}
