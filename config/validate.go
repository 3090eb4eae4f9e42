package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Validate reports every problem of c at once, joined with errors.Join; each names its key and
// the bad value (secrets redacted).
func (c Config) Validate() error {
	var p problems
	c.Kafka.validate(&p)
	c.Redis.validate(&p)
	c.Source.validate(&p)
	c.SchemaRegistry.validate(&p, c.Source.Format)
	c.Topics.validate(&p)
	c.Processor.validate(&p)
	hostPort(&p, "metrics.addr", c.Metrics.Addr, false)
	oneOf(&p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&p, "log.format", c.Log.Format, "json", "text")
	return errors.Join(p...)
}

type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, errors.New(key+": "+fmt.Sprintf(format, args...)))
}

// SASL mechanisms franz-go offers that the config accepts.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func (k Kafka) validate(p *problems) {
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "[] is empty; list at least one host:port")
	}
	for _, b := range k.Brokers {
		hostPort(p, "kafka.brokers", b, true)
	}
	nonEmpty(p, "kafka.clientId", k.ClientID)
	positive(p, "kafka.sessionTimeout", k.SessionTimeout)
	positive(p, "kafka.rebalanceTimeout", k.RebalanceTimeout)
	positive(p, "kafka.transactionTimeout", k.TransactionTimeout)
	if k.RebalanceTimeout >= k.SessionTimeout {
		p.add("kafka.rebalanceTimeout", "%s must be less than kafka.sessionTimeout (%s)", k.RebalanceTimeout, k.SessionTimeout)
	}
	k.SASL.validate(p)
	k.TLS.validate(p)
}

func (s SASL) validate(p *problems) {
	if s.Mechanism == "" {
		if s.Username != "" || s.Password != "" {
			p.add("kafka.sasl.mechanism", `"" must be set when kafka.sasl.username or kafka.sasl.password is`)
		}
		return
	}
	if !slices.Contains(saslMechanisms, s.Mechanism) {
		oneOf(p, "kafka.sasl.mechanism", s.Mechanism, saslMechanisms...)
		return
	}
	if s.Username == "" {
		p.add("kafka.sasl.username", `"" must be set when kafka.sasl.mechanism is %q`, s.Mechanism)
	}
	if s.Password == "" {
		p.add("kafka.sasl.password", `"" must be set when kafka.sasl.mechanism is %q`, s.Mechanism)
	}
}

func (t TLS) validate(p *problems) {
	files := []struct{ key, path string }{
		{"kafka.tls.caFile", t.CAFile}, {"kafka.tls.certFile", t.CertFile}, {"kafka.tls.keyFile", t.KeyFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		readable(p, f.key, f.path)
		if !t.Enabled {
			p.add(f.key, "%q is set but kafka.tls.enabled is false", f.path)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("kafka.tls.certFile", "%q and kafka.tls.keyFile %q must be set together", t.CertFile, t.KeyFile)
	}
}

func (r Redis) validate(p *problems) {
	if err := parseRedisURL(r.URL); err != nil {
		p.add("redis.url", "%q is not a Redis URL: %v", redactURL(r.URL), err)
	}
	if r.TLS.CAFile == "" {
		return
	}
	readable(p, "redis.tls.caFile", r.TLS.CAFile)
	if !strings.HasPrefix(strings.ToLower(r.URL), "rediss://") {
		p.add("redis.tls.caFile", "%q needs a rediss:// redis.url", r.TLS.CAFile)
	}
}

// parseRedisURL accepts what go-redis accepts: a single server (redis://, rediss://, unix://)
// or a cluster (redis://host:port?addr=host2:port2). A URL with a path names a database, which
// only a single server has, so go-redis's cluster parser (which ignores the path) is not asked.
func parseRedisURL(s string) error {
	_, err := redis.ParseURL(s)
	if err == nil {
		return nil
	}
	if u, perr := url.Parse(s); perr == nil && strings.Trim(u.Path, "/") == "" {
		if _, cerr := redis.ParseClusterURL(s); cerr == nil {
			return nil
		}
	}
	// url.Error repeats the whole URL, password included.
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (s Source) validate(p *problems) {
	if err := topicName(s.TopicPrefix); err != nil {
		p.add("source.topicPrefix", "%q %v", s.TopicPrefix, err)
	}
	identifier(p, "source.schema", s.Schema)
	oneOf(p, "source.format", s.Format, FormatJSON, FormatAvro)
	for _, logical := range slices.Sorted(maps.Keys(s.Tables)) {
		s.Tables[logical].validate(p, "source.tables."+logical, logical)
	}
	longest := ""
	for _, logical := range LogicalTables {
		if topic := s.Topic(logical); len(topic) > len(longest) {
			longest = topic
		}
	}
	if len(longest) > maxTopicLen {
		p.add("source.topicPrefix", "%q makes topic %q longer than %d characters", s.TopicPrefix, longest, maxTopicLen)
	}
}

func (t Table) validate(p *problems, key, logical string) {
	if !slices.Contains(LogicalTables, logical) {
		p.add(key, "%q is not a logical table (one of %s)", logical, strings.Join(LogicalTables, ", "))
	}
	identifier(p, key+".name", t.Name)
	for _, column := range slices.Sorted(maps.Keys(t.Columns)) {
		if !identifierRE.MatchString(column) {
			p.add(key+".columns", "%q is not an identifier", column)
		}
		identifier(p, key+".columns."+column, t.Columns[column])
	}
}

func (r SchemaRegistry) validate(p *problems, format string) {
	if r.URL == "" {
		if format == FormatAvro {
			p.add("schemaRegistry.url", `"" must be set when source.format is "avro"`)
		}
		return
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("schemaRegistry.url", "%q is not an http:// or https:// URL", redactURL(r.URL))
	}
}

// Every string field of Topics is a topic name, so a topic added later is checked too.
func (t Topics) validate(p *problems) {
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		key := "topics." + tagName(v.Type().Field(i))
		if name := v.Field(i); name.Kind() == reflect.String {
			if err := topicName(name.String()); err != nil {
				p.add(key, "%q %v", name.String(), err)
			}
		}
	}
}

func (pr Processor) validate(p *problems) {
	nonEmpty(p, "processor.group", pr.Group)
	nonEmpty(p, "processor.instanceId", pr.InstanceID)
	if pr.MaxPollRecords <= 0 {
		p.add("processor.maxPollRecords", "%d must be positive", pr.MaxPollRecords)
	}
	positive(p, "processor.shutdownTimeout", pr.ShutdownTimeout)
	positive(p, "processor.dedupTTL", pr.DedupTTL)
}

func oneOf(p *problems, key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		p.add(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func nonEmpty(p *problems, key, value string) {
	if value == "" {
		p.add(key, `"" must not be empty`)
	}
}

func positive(p *problems, key string, d time.Duration) {
	if d <= 0 {
		p.add(key, "%s must be positive", d)
	}
}

// hostPort checks a host:port address; a listen address may leave the host empty.
func hostPort(p *problems, key, addr string, needHost bool) {
	host, port, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		p.add(key, "%q is not host:port", addr)
	case needHost && host == "":
		p.add(key, "%q has no host", addr)
	default:
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || (needHost && n == 0) {
			p.add(key, "%q has no valid port", addr)
		}
	}
}

func readable(p *problems, key, path string) {
	f, err := os.Open(path)
	if err == nil {
		var info os.FileInfo
		info, err = f.Stat()
		_ = f.Close()
		if err == nil && info.IsDir() {
			err = errors.New("is a directory")
		}
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.add(key, "%q is not a readable file: %v", path, err)
	}
}

// identifierRE is a plain SQL identifier; physical table names end up in topic names, so
// quoted identifiers with other characters are not supported.
var identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func identifier(p *problems, key, value string) {
	if !identifierRE.MatchString(value) {
		p.add(key, "%q is not an identifier (letters, digits, _; not starting with a digit)", value)
	}
}

const maxTopicLen = 249

var topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// topicName checks Kafka's rules for topic names.
func topicName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case name == "." || name == "..":
		return errors.New(`is not a legal topic name ("." and ".." are reserved)`)
	case len(name) > maxTopicLen:
		return fmt.Errorf("is longer than %d characters", maxTopicLen)
	case !topicRE.MatchString(name):
		return errors.New("has characters other than letters, digits, '.', '_' and '-'")
	}
	return nil
}
