package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// clearEnv removes every LOYALTYHOOKS_ variable for the test, so the machine's own settings
// cannot leak in; t.Setenv restores them afterwards.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") {
			t.Setenv(name, "")
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loyaltyhooks.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func parseFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func mustLoad(t *testing.T, file string, fs *pflag.FlagSet) Config {
	t.Helper()
	c, err := Load(file, fs)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func wantErrContaining(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", parts)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not contain %q", err, part)
		}
	}
}

func TestLoadWithoutFileGivesDefaultsAndHostName(t *testing.T) {
	clearEnv(t)
	host, err := os.Hostname()
	if err != nil {
		t.Skip("host has no name:", err)
	}
	want := Defaults()
	want.Processor.InstanceID = host
	if got := mustLoad(t, "", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(\"\", nil) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, `
kafka:
  brokers: [file:9092]
source:
  topicPrefix: fileprefix
redis:
  url: redis://file:6379/0
processor:
  group: filegroup
  instanceId: file-1
`)
	t.Setenv("LOYALTYHOOKS_SOURCE_TOPICPREFIX", "envprefix")
	t.Setenv("LOYALTYHOOKS_REDIS_URL", "redis://env:6379/0")
	t.Setenv("LOYALTYHOOKS_PROCESSOR_GROUP", "envgroup")
	// --group is defined but not given, so it must not override.
	c := mustLoad(t, file, parseFlags(t, "--redis-url", "redis://flag:6379/0"))

	checks := []struct{ key, got, want string }{
		{"kafka.brokers (file)", strings.Join(c.Kafka.Brokers, ","), "file:9092"},
		{"processor.instanceId (file)", c.Processor.InstanceID, "file-1"},
		{"source.topicPrefix (env over file)", c.Source.TopicPrefix, "envprefix"},
		{"processor.group (env over file, unset flag)", c.Processor.Group, "envgroup"},
		{"redis.url (flag over env)", c.Redis.URL, "redis://flag:6379/0"},
		{"source.format (default)", c.Source.Format, FormatJSON},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.key, ch.got, ch.want)
		}
	}
}

func TestCamelCaseKeysFromEveryLayer(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, "kafka:\n  sessionTimeout: 30s\nprocessor:\n  maxPollRecords: 50\n")
	t.Setenv("LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT", "5s")
	t.Setenv("LOYALTYHOOKS_PROCESSOR_SHUTDOWNTIMEOUT", "7s")
	c := mustLoad(t, file, parseFlags(t, "--set", "kafka.transactionTimeout=25s", "--topic-prefix", "dbz"))

	if c.Kafka.SessionTimeout != 30*time.Second || c.Processor.MaxPollRecords != 50 {
		t.Errorf("file: sessionTimeout %s, maxPollRecords %d", c.Kafka.SessionTimeout, c.Processor.MaxPollRecords)
	}
	if c.Kafka.RebalanceTimeout != 5*time.Second || c.Processor.ShutdownTimeout != 7*time.Second {
		t.Errorf("env: rebalanceTimeout %s, shutdownTimeout %s", c.Kafka.RebalanceTimeout, c.Processor.ShutdownTimeout)
	}
	if c.Kafka.TransactionTimeout != 25*time.Second || c.Source.TopicPrefix != "dbz" {
		t.Errorf("flags: transactionTimeout %s, topicPrefix %q", c.Kafka.TransactionTimeout, c.Source.TopicPrefix)
	}
}

func TestListsFromEnvAndFlags(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", "a:9092, b:9092,c:9092")
	c := mustLoad(t, "", nil)
	if want := []string{"a:9092", "b:9092", "c:9092"}; !slices.Equal(c.Kafka.Brokers, want) {
		t.Errorf("env: kafka.brokers = %q, want %q", c.Kafka.Brokers, want)
	}

	c = mustLoad(t, "", parseFlags(t, "--brokers", "x:1,y:2"))
	if want := []string{"x:1", "y:2"}; !slices.Equal(c.Kafka.Brokers, want) {
		t.Errorf("flag: kafka.brokers = %q, want %q", c.Kafka.Brokers, want)
	}

	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", "")
	_, err := Load("", nil)
	wantErrContaining(t, err, "kafka.brokers: []")
}

func TestEmptyEnvClearsFileValue(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, "schemaRegistry:\n  url: http://registry:8081\n")
	t.Setenv("LOYALTYHOOKS_SCHEMAREGISTRY_URL", "")
	if c := mustLoad(t, file, nil); c.SchemaRegistry.URL != "" {
		t.Errorf("schemaRegistry.url = %q, want it cleared by the empty variable", c.SchemaRegistry.URL)
	}
}

func TestTablesFromFile(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, `
source:
  tables:
    member:
      name: customers
      columns:
        first_name: given_name
    member_code:
      columns:
        code_number: sms_code
`)
	c := mustLoad(t, file, nil)
	want := Defaults().Source.Tables
	want["member"] = Table{Name: "customers", Columns: map[string]string{"first_name": "given_name"}}
	want["member_code"] = Table{Name: "member_code", Columns: map[string]string{"code_number": "sms_code"}}
	if !reflect.DeepEqual(c.Source.Tables, want) {
		t.Errorf("source.tables =\n%v\nwant\n%v", c.Source.Tables, want)
	}
	if got := c.Source.Topic("member"); got != "loyalty.public.customers" {
		t.Errorf("Topic(member) = %q", got)
	}
}

func TestTablesFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_SOURCE_TABLES_MEMBER_CODE_NAME", "codes")
	t.Setenv("LOYALTYHOOKS_SOURCE_TABLES_MEMBER_COLUMNS_FIRST_NAME", "given_name")
	t.Setenv("LOYALTYHOOKS_CONFIG", "/not/a/key") // names no key: left alone
	c := mustLoad(t, "", nil)
	if got := c.Source.Tables["member_code"].Name; got != "codes" {
		t.Errorf("member_code name = %q, want codes", got)
	}
	member := c.Source.Tables["member"]
	if member.Name != "member" || member.Columns["first_name"] != "given_name" {
		t.Errorf("member = %+v, want name member and first_name → given_name", member)
	}
}

func TestEnvKey(t *testing.T) {
	defaults := reflect.ValueOf(Defaults())
	cases := map[string]string{
		"KAFKA_BROKERS":                           "kafka.brokers",
		"KAFKA_SASL_PASSWORD":                     "kafka.sasl.password",
		"SOURCE_TOPICPREFIX":                      "source.topicPrefix",
		"SCHEMAREGISTRY_URL":                      "schemaRegistry.url",
		"SOURCE_TABLES_MEMBER_NAME":               "source.tables.member.name",
		"SOURCE_TABLES_MEMBER_CODE_NAME":          "source.tables.member_code.name",
		"SOURCE_TABLES_MEMBER_COLUMNS_FIRST_NAME": "source.tables.member.columns.first_name",
		"CONFIG":                        "",
		"KAFKA":                         "",
		"KAFKA_BROKER":                  "",
		"SOURCE_TABLES_NOPE_NAME":       "",
		"SOURCE_TABLES_MEMBER_COLUMNS_": "",
	}
	for rest, want := range cases {
		got, ok := envKey(rest, configType, defaults)
		if got != want || ok != (want != "") {
			t.Errorf("envKey(%q) = %q, %v; want %q", rest, got, ok, want)
		}
	}
}

func TestSetFlag(t *testing.T) {
	clearEnv(t)
	fs := parseFlags(t,
		"--set", "kafka.sessionTimeout=30s",
		"--set", "KAFKA.BROKERS=a:1,b:2",
		"--set", "source.tables.member.columns.first_name=given_name",
		"--set", "redis.url=redis://h:6379/0?client_name=x=y", // only the first '=' splits
	)
	c := mustLoad(t, "", fs)
	if c.Kafka.SessionTimeout != 30*time.Second {
		t.Errorf("kafka.sessionTimeout = %s", c.Kafka.SessionTimeout)
	}
	if !slices.Equal(c.Kafka.Brokers, []string{"a:1", "b:2"}) {
		t.Errorf("kafka.brokers = %q", c.Kafka.Brokers)
	}
	if got := c.Source.Tables["member"].Columns["first_name"]; got != "given_name" {
		t.Errorf("column override = %q", got)
	}
	if c.Redis.URL != "redis://h:6379/0?client_name=x=y" {
		t.Errorf("redis.url = %q", c.Redis.URL)
	}

	// A named flag wins over --set of the same key.
	c = mustLoad(t, "", parseFlags(t, "--set", "kafka.brokers=a:1", "--brokers", "c:3"))
	if !slices.Equal(c.Kafka.Brokers, []string{"c:3"}) {
		t.Errorf("kafka.brokers = %q, want the --brokers value", c.Kafka.Brokers)
	}
}

func TestSetFlagErrors(t *testing.T) {
	clearEnv(t)
	cases := map[string][]string{
		"kafka.broker=a:1":          {"kafka.broker: unknown key", "brokers"},
		"kafka.sasl=x":              {"kafka.sasl: holds several keys"},
		"kafka.sasl.password":       {"--set #1", "key=value"},
		"source.tables.member=x":    {"source.tables.member: holds several keys"},
		"processor.instanceID=pod1": nil, // keys ignore case
	}
	for arg, parts := range cases {
		_, err := Load("", parseFlags(t, "--set", arg))
		if parts == nil {
			if err != nil {
				t.Errorf("--set %s: %v", arg, err)
			}
			continue
		}
		wantErrContaining(t, err, parts...)
	}
}

func TestUnknownFileKeys(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, `
kafka:
  broker: [a:9092]
source:
  tables:
    member:
      colums: {first_name: given_name}
metric:
  addr: ":1"
`)
	_, err := Load(file, nil)
	wantErrContaining(t, err, file, "kafka.broker: unknown key", "source.tables.member.colums: unknown key", "metric: unknown key")
}

func TestFileKeysIgnoreCase(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, "kafka:\n  SessionTimeout: 30s\n  clientid: other\n")
	c := mustLoad(t, file, nil)
	if c.Kafka.SessionTimeout != 30*time.Second || c.Kafka.ClientID != "other" {
		t.Errorf("sessionTimeout %s, clientId %q", c.Kafka.SessionTimeout, c.Kafka.ClientID)
	}
}

func TestMissingFileIsNamed(t *testing.T) {
	clearEnv(t)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(missing, nil)
	wantErrContaining(t, err, missing)
}

func TestBadFile(t *testing.T) {
	clearEnv(t)
	_, err := Load(writeConfig(t, "kafka: [unclosed\n"), nil)
	wantErrContaining(t, err, "config file")
}

func TestDecodeErrorsNameKeyAndValue(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, `
kafka:
  sessionTimeout: 15
  rebalanceTimeout: soon
  tls:
    enabled: maybe
processor:
  maxPollRecords: lots
source:
  tables:
    member:
      columns:
        first_name: [a, b]
`)
	_, err := Load(file, nil)
	wantErrContaining(t, err,
		"kafka.sessionTimeout: 15 has no unit",
		`kafka.rebalanceTimeout: "soon" is not a duration`,
		`kafka.tls.enabled: "maybe" is not a valid bool`,
		`processor.maxPollRecords: "lots" is not a valid int`,
		"source.tables.member.columns.first_name: a list cannot be a string",
	)
}

func TestLoadValidates(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_SOURCE_FORMAT", "xml")
	c, err := Load("", nil)
	wantErrContaining(t, err, `source.format: "xml" is not one of json, avro`)
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("Load returned %+v with its error, want the zero Config", c)
	}
}

func TestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	for name, key := range FlagKeys {
		canonical, _, err := resolveKey(key)
		if err != nil || canonical != key {
			t.Errorf("FlagKeys[%q] = %q: resolves to %q, %v", name, key, canonical, err)
		}
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("--%s not defined", name)
			continue
		}
		if !strings.Contains(f.Usage, key) || !strings.Contains(f.Usage, envName(key)) {
			t.Errorf("--%s help %q does not name %s and its variable", name, f.Usage, key)
		}
	}
	if fs.Lookup(setFlag) == nil {
		t.Errorf("--%s not defined", setFlag)
	}
	if usage := fs.Lookup("brokers").Usage; !strings.Contains(usage, "comma-separated") {
		t.Errorf("--brokers help %q does not say it takes a list", usage)
	}
}
