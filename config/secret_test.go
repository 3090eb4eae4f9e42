package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every secret can come from a file, so that none has to be written into the config file: a
// secret field added later without its <key>File twin fails here.
func TestEverySecretHasAFileTwin(t *testing.T) {
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				tag := tagName(f)
				if tag == "" {
					continue
				}
				if f.Tag.Get("secret") == "true" {
					if _, ok := fileTwin(typ, i); !ok {
						t.Errorf("%s is a secret without a %s%s key beside it", joinKey(path, tag), tag, fileSuffix)
					}
				}
				walk(f.Type, joinKey(path, tag))
			}
		case reflect.Slice, reflect.Map:
			walk(typ.Elem(), path+"[]")
		}
	}
	walk(configType, "")
}

func TestSecretsFromFiles(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("LOYALTYHOOKS_KAFKA_SASL_USERNAME", "loyalty")
	t.Setenv("LOYALTYHOOKS_KAFKA_SASL_PASSWORDFILE", writeFile(t, "kafka-s3cret\n"))
	t.Setenv("LOYALTYHOOKS_REDIS_PASSWORDFILE", writeFile(t, "redis-s3cret\r\n"))
	t.Setenv("LOYALTYHOOKS_SCHEMAREGISTRY_URL", "https://registry:8081")
	t.Setenv("LOYALTYHOOKS_SCHEMAREGISTRY_USERNAME", "key")
	t.Setenv("LOYALTYHOOKS_SCHEMAREGISTRY_PASSWORDFILE", writeFile(t, "registry-s3cret"))
	hooks := writeFile(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\nwhsec_c2VjcmV0LXR3bw==\n")
	c := mustLoad(t, writeConfig(t, `
sender:
  subscriptions:
    - id: crm
      url: https://crm.example/hooks
      secretsFile: `+hooks+`
`), nil)
	if c.Kafka.SASL.Password != "kafka-s3cret" || c.Redis.Password != "redis-s3cret" || c.SchemaRegistry.Password != "registry-s3cret" {
		t.Errorf("passwords from files: %q %q %q", c.Kafka.SASL.Password, c.Redis.Password, c.SchemaRegistry.Password)
	}
	want := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2VjcmV0LXR3bw=="}
	if got := c.Sender.Subscriptions[0].Secrets; !slices.Equal(got, want) {
		t.Errorf("webhook secrets from a file = %q, want %q", got, want)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("secrets from files warned about: %v", c.Warnings())
	}
	out := printString(t, c)
	if strings.Contains(out, "s3cret") || strings.Contains(out, "whsec_") {
		t.Errorf("config print shows a secret:\n%s", out)
	}
}

func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		env  map[string]string
		want []string
	}{
		"both ways": {map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
			"KAFKA_SASL_PASSWORD": "inline-s3cret", "KAFKA_SASL_PASSWORDFILE": writeFile(t, "file-s3cret")},
			[]string{"kafka.sasl.password: set together with kafka.sasl.passwordFile"}},
		"missing file": {map[string]string{"REDIS_PASSWORDFILE": filepath.Join(dir, "none")},
			[]string{"redis.passwordFile", "none", "no such file"}},
		"empty file": {map[string]string{"SCHEMAREGISTRY_URL": "http://r:8081", "SCHEMAREGISTRY_USERNAME": "u",
			"SCHEMAREGISTRY_PASSWORDFILE": writeFile(t, "\n")}, []string{"schemaRegistry.passwordFile", "is empty"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(envPrefix+"_"+k, v)
			}
			_, err := Load("", nil)
			wantErrContaining(t, err, tc.want...)
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestPlainSecretsInTheFileAreWarnedAbout(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, `
kafka:
  sasl: {mechanism: PLAIN, username: loyalty, password: kafka-s3cret}
redis:
  url: redis://loyalty:redis-s3cret@redis:6379/0
schemaRegistry:
  url: https://registry:8081
  username: key
  password: registry-s3cret
sender:
  subscriptions:
    - id: crm
      url: https://crm.example/hooks
      secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
      headers: [{name: X-Api-Key, value: header-s3cret}]
`)
	c := mustLoad(t, file, nil)
	var keys []string
	for _, w := range c.Warnings() {
		keys = append(keys, w.Key)
		if strings.Contains(w.Text, "s3cret") || strings.Contains(w.Text, "whsec_") {
			t.Errorf("warning shows the secret: %s", w.Text)
		}
		if !strings.Contains(w.Text, file) {
			t.Errorf("warning does not name the file: %s", w.Text)
		}
	}
	want := []string{"kafka.sasl.password", "redis.url", "schemaRegistry.password",
		"sender.subscriptions[0].headers[0].value", "sender.subscriptions[0].secrets"}
	if !slices.Equal(keys, want) {
		t.Errorf("warned about %q, want %q", keys, want)
	}
	if w := c.Warnings()[0].Text; !strings.Contains(w, "LOYALTYHOOKS_KAFKA_SASL_PASSWORD") || !strings.Contains(w, "kafka.sasl.passwordFile") {
		t.Errorf("warning does not say what to do instead: %s", w)
	}

	// The same settings from the environment are not warned about.
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_KAFKA_SASL_PASSWORD", "kafka-s3cret")
	t.Setenv("LOYALTYHOOKS_REDIS_URL", "redis://loyalty:redis-s3cret@redis:6379/0")
	c = mustLoad(t, writeConfig(t, "kafka:\n  sasl: {mechanism: PLAIN, username: loyalty}\n"), nil)
	if len(c.Warnings()) != 0 {
		t.Errorf("warnings for secrets from the environment: %v", c.Warnings())
	}
}

func TestValidateSecuredSettings(t *testing.T) {
	file := tempFile(t)
	missing := filepath.Join(t.TempDir(), "missing")
	valid := map[string]func(*Config){
		"server name": func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, ServerName: "kafka.internal"} },
		"sasl password file": func(c *Config) {
			c.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: file}
		},
		"redis ACL user": func(c *Config) {
			c.Redis = Redis{URL: "rediss://redis:6380/0", KeyPrefix: "x:", Username: "u", PasswordFile: file, TLS: RedisTLS{CAFile: file}}
		},
		"registry over TLS": func(c *Config) {
			c.SchemaRegistry = SchemaRegistry{URL: "https://r:8081", Username: "u", Password: "p",
				TLS: RegistryTLS{CAFile: file, CertFile: file, KeyFile: file}}
		},
	}
	for name, mutate := range valid {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	invalid := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"server name without TLS", func(c *Config) { c.Kafka.TLS.ServerName = "k" }, "kafka.tls.serverName"},
		{"password file unreadable", func(c *Config) {
			c.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: missing}
		}, "kafka.sasl.passwordFile"},
		{"password file without mechanism", func(c *Config) { c.Kafka.SASL.PasswordFile = file }, "kafka.sasl.mechanism"},
		{"redis user twice", func(c *Config) { c.Redis.URL = "redis://a:b@h:6379/0"; c.Redis.Username = "u" }, "redis.url"},
		{"registry user twice", func(c *Config) {
			c.SchemaRegistry = SchemaRegistry{URL: "https://a:b@r:8081", Username: "u"}
		}, "schemaRegistry.url"},
		{"registry password without user", func(c *Config) {
			c.SchemaRegistry = SchemaRegistry{URL: "https://r:8081", PasswordFile: file}
		}, "schemaRegistry.username"},
		{"registry TLS over http", func(c *Config) {
			c.SchemaRegistry = SchemaRegistry{URL: "http://r:8081", TLS: RegistryTLS{CAFile: file}}
		}, "schemaRegistry.tls.caFile"},
		{"registry cert without key", func(c *Config) {
			c.SchemaRegistry = SchemaRegistry{URL: "https://r:8081", TLS: RegistryTLS{CertFile: file}}
		}, "schemaRegistry.tls.certFile"},
	}
	for _, tc := range invalid {
		c := validConfig()
		tc.mutate(&c)
		problems := problemsOf(c.Validate())
		if len(problems) != 1 || !strings.HasPrefix(problems[0], tc.key+": ") {
			t.Errorf("%s: problems %q, want one about %s", tc.name, problems, tc.key)
		}
	}
}
