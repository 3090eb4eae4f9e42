package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func printString(t *testing.T, c Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := Print(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPrintGolden(t *testing.T) {
	c := validConfig()
	c.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "loyalty", Password: "sasl-s3cret"}
	c.Redis.URL = "redis://loyalty:redis-s3cret@redis:6379/0"
	c.Source.Tables["member"] = Table{Name: "customers", Columns: map[string]string{"first_name": "given_name"}}
	got := printString(t, c)

	golden := filepath.Join("testdata", "print.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Print differs from %s (go test ./config/ -update rewrites it):\n%s", golden, got)
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	c := validConfig()
	c.Kafka.SASL = SASL{Mechanism: "SCRAM-SHA-256", Username: "kafka-user", Password: "sasl-s3cret"}
	c.SchemaRegistry = SchemaRegistry{URL: "https://ru:url-s3cret@registry:8081", Username: "reg-user", Password: "registry-s3cret"}
	c.Redis.URL = "rediss://redis-user:redis-s3cret@redis:6380/2"
	out := printString(t, c)

	if strings.Contains(out, "s3cret") {
		t.Errorf("a secret leaked:\n%s", out)
	}
	for _, want := range []string{
		"username: kafka-user",
		"username: reg-user",
		"url: rediss://redis-user:[redacted]@redis:6380/2",
		"url: https://ru:[redacted]@registry:8081",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "password: '[redacted]'"); n != 2 {
		t.Errorf("want the SASL and registry passwords redacted, found %d:\n%s", n, out)
	}
}

func TestPrintLeavesEmptySecretsEmpty(t *testing.T) {
	out := printString(t, validConfig())
	if strings.Contains(out, redacted) {
		t.Errorf("an unset secret printed as redacted:\n%s", out)
	}
}

// Redaction follows the tags alone, so fields other packages add later are covered too.
func TestRedactionFollowsTags(t *testing.T) {
	type endpoint struct {
		URL    string `mapstructure:"url" secret:"url"`
		Secret string `mapstructure:"hmacSecret" secret:"true"`
	}
	type future struct {
		Token     string              `mapstructure:"token" secret:"true"`
		Unset     string              `mapstructure:"unset" secret:"true"`
		Endpoints []endpoint          `mapstructure:"endpoints"`
		ByName    map[string]endpoint `mapstructure:"byName"`
		Delays    []time.Duration     `mapstructure:"delays"`
		internal  string
	}
	v := future{
		Token:     "tok-s3cret",
		Endpoints: []endpoint{{URL: "https://u:url-s3cret@hooks.example/x", Secret: "whsec_s3cret"}},
		ByName:    map[string]endpoint{"a": {URL: "http://plain/", Secret: "whsec_s3cret2"}},
		Delays:    []time.Duration{time.Second, 5 * time.Minute},
		internal:  "hidden",
	}
	out, err := yaml.Marshal(valueNode(reflect.ValueOf(v)))
	if err != nil {
		t.Fatal(err)
	}
	want := `token: '[redacted]'
unset: ""
endpoints:
    - url: https://u:[redacted]@hooks.example/x
      hmacSecret: '[redacted]'
byName:
    a:
        url: http://plain/
        hmacSecret: '[redacted]'
delays:
    - 1s
    - 5m0s
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"redis://127.0.0.1:6379/0":          "redis://127.0.0.1:6379/0",
		"redis://user@h:6379":               "redis://user@h:6379",
		"redis://user:pw@h:6379/0":          "redis://user:[redacted]@h:6379/0",
		"redis://:pw@h:6379":                "redis://:[redacted]@h:6379",
		"rediss://us%40er:p%3Aw@h:6380/1?x": "rediss://us%40er:[redacted]@h:6380/1?x",
		"redis://u:p@ss%zz@h:6379":          "[redacted]@h:6379",
		"":                                  "",
	}
	for in, want := range cases {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// What Print writes, Load reads back as the same configuration.
func TestPrintRoundTrip(t *testing.T) {
	clearEnv(t)
	c := validConfig()
	c.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
	c.Kafka.SessionTimeout = 45 * time.Second
	c.Kafka.TLS.Enabled = true
	c.Redis.KeyPrefix = "true" // a string that YAML would read as a bool unless quoted
	c.Source.Format = FormatAvro
	c.SchemaRegistry.URL = "http://registry:8081"
	c.Source.Tables["wallet"] = Table{Name: "wallets", Columns: map[string]string{"active_units": "points"}}
	c.Processor.MaxPollRecords = 250

	got := mustLoad(t, writeConfig(t, printString(t, c)), nil)
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip changed the config:\ngot  %+v\nwant %+v", got, c)
	}
}
