package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Registry returns a client of the configured schema registry: basic auth from
// schemaRegistry.username and password(File) — or from a user in the URL, which is taken out of
// the URL so that no error repeats it — and, for https://, schemaRegistry.tls.
func Registry(c config.SchemaRegistry) (*sr.Client, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("schemaRegistry.url %s: %w", config.RedactURL(c.URL), withoutURL(err))
	}
	user, pass := c.Username, c.Password
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	opts := []sr.ClientOpt{sr.URLs(u.String())}
	switch {
	case c.PasswordFile != "":
		if _, err := config.ReadSecretFile("schemaRegistry.passwordFile", c.PasswordFile); err != nil {
			return nil, err
		}
		// Read for every request, so that a rotated password needs no restart.
		opts = append(opts, sr.PreReq(func(req *http.Request) error {
			pass, err := config.ReadSecretFile("schemaRegistry.passwordFile", c.PasswordFile)
			if err != nil {
				return err
			}
			req.SetBasicAuth(user, pass)
			return nil
		}))
	case user != "" || pass != "":
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	if t := c.TLS; t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
		tc, err := registryTLS(c).config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.DialTLSConfig(tc))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schemaRegistry.url: %w", err)
	}
	return cl, nil
}

func registryTLS(c config.SchemaRegistry) tlsSettings {
	return tlsSettings{service: "schema registry", keys: "schemaRegistry.tls",
		caFile: c.TLS.CAFile, certFile: c.TLS.CertFile, keyFile: c.TLS.KeyFile}
}

// CheckRegistry asks the registry for its subjects and, when that fails, says why in the
// config's terms: refused credentials, an untrusted certificate, a registry that does not answer.
func CheckRegistry(ctx context.Context, cl *sr.Client, c config.SchemaRegistry) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	_, err := cl.Subjects(ctx)
	if err == nil {
		return nil
	}
	endpoint := config.RedactURL(c.URL)
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := strings.TrimSpace(re.Message)
		if msg == "" {
			msg = http.StatusText(re.StatusCode)
		}
		hint := ""
		if re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden {
			hint = " (check schemaRegistry.username and schemaRegistry.password)"
		}
		return fmt.Errorf("schema registry %s: HTTP %d: %s%s", endpoint, re.StatusCode, msg, hint)
	}
	// The client repeats the URL twice before the cause; keep the cause.
	cause := withoutURL(err)
	return fmt.Errorf("schema registry %s: %w%s", endpoint, cause, tlsHint(cause, registryTLS(c)))
}
