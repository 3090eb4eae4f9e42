package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
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
	c.Timers.validate(&p)
	c.Sender.validate(&p, c.Topics)
	c.Topology.validate(&p)
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
	secretFile(p, "kafka.sasl.passwordFile", s.PasswordFile)
	if s.Mechanism == "" {
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			p.add("kafka.sasl.mechanism", `"" must be set when kafka.sasl.username or kafka.sasl.password(File) is`)
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
	if s.Password == "" && s.PasswordFile == "" {
		p.add("kafka.sasl.password", `"" must be set (or kafka.sasl.passwordFile) when kafka.sasl.mechanism is %q`, s.Mechanism)
	}
}

// secretFile checks a <key>File twin: a readable file, when set.
func secretFile(p *problems, key, path string) {
	if path != "" {
		readable(p, key, path)
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
	if t.ServerName != "" && !t.Enabled {
		p.add("kafka.tls.serverName", "%q is set but kafka.tls.enabled is false", t.ServerName)
	}
}

func (r Redis) validate(p *problems) {
	if err := parseRedisURL(r.URL); err != nil {
		p.add("redis.url", "%q is not a Redis URL: %v", redactURL(r.URL), err)
	}
	secretFile(p, "redis.passwordFile", r.PasswordFile)
	if r.Username != "" || r.Password != "" || r.PasswordFile != "" {
		noURLUser(p, "redis", r.URL)
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
	if IsSentinelURL(s) {
		_, err := redis.ParseFailoverURL(s)
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
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

// IsSentinelURL reports whether a redis.url names Sentinels (a master_name= parameter) rather than
// a server or a cluster.
func IsSentinelURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Query().Has("master_name")
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
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("schemaRegistry.url", "%q is not an http:// or https:// URL", redactURL(r.URL))
		return
	}
	secretFile(p, "schemaRegistry.passwordFile", r.PasswordFile)
	if r.Username != "" || r.Password != "" || r.PasswordFile != "" {
		noURLUser(p, "schemaRegistry", r.URL)
	}
	if r.Username == "" && (r.Password != "" || r.PasswordFile != "") {
		p.add("schemaRegistry.username", `"" must be set when schemaRegistry.password(File) is`)
	}
	files := []struct{ key, path string }{
		{"schemaRegistry.tls.caFile", r.TLS.CAFile}, {"schemaRegistry.tls.certFile", r.TLS.CertFile},
		{"schemaRegistry.tls.keyFile", r.TLS.KeyFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		readable(p, f.key, f.path)
		if u.Scheme != "https" {
			p.add(f.key, "%q needs an https:// schemaRegistry.url", f.path)
		}
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		p.add("schemaRegistry.tls.certFile", "%q and schemaRegistry.tls.keyFile %q must be set together", r.TLS.CertFile, r.TLS.KeyFile)
	}
}

// noURLUser reports credentials given both as keys and inside <section>.url, which could
// disagree.
func noURLUser(p *problems, section, rawURL string) {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		p.add(section+".url", "%q has a user in it, and %s.username or %s.password(File) is set too; keep one of them",
			redactURL(rawURL), section, section)
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
	if pr.ReferenceLag < 0 {
		p.add("processor.referenceLag", "%d must not be negative", pr.ReferenceLag)
	}
}

// maxTimersPerTick keeps one scan's reply, and the arguments of its Redis scripts, small.
const maxTimersPerTick = 5000

func (t Timers) validate(p *problems) {
	if t.NotificationDays < 0 {
		p.add("timers.notificationDays", "%d must not be negative", t.NotificationDays)
	}
	positive(p, "timers.tick", t.Tick)
	if t.MaxPerTick < 1 || t.MaxPerTick > maxTimersPerTick {
		p.add("timers.maxPerTick", "%d must be between 1 and %d", t.MaxPerTick, maxTimersPerTick)
	}
	if t.LateLookupGrace < 0 {
		p.add("timers.lateLookupGrace", "%s must not be negative (0 turns deferral off)", t.LateLookupGrace)
	}
	if t.LateLookupGrace > 0 && len(t.LateLookupDelays) == 0 {
		p.add("timers.lateLookupDelays", "must list at least one delay while timers.lateLookupGrace is %s", t.LateLookupGrace)
	}
	for i, d := range t.LateLookupDelays {
		positive(p, fmt.Sprintf("timers.lateLookupDelays[%d]", i), d)
	}
}

func (t Topology) validate(p *problems) {
	if t.SourcePartitions < 1 {
		p.add("topology.sourcePartitions", "%d must be at least 1", t.SourcePartitions)
	}
	if t.WebhookPartitions < 1 {
		p.add("topology.webhookPartitions", "%d must be at least 1", t.WebhookPartitions)
	}
	positive(p, "topology.webhookRetention", t.WebhookRetention)
	if t.ReplicationFactor != -1 && t.ReplicationFactor < 1 {
		p.add("topology.replicationFactor", "%d must be -1 (the broker default) or at least 1", t.ReplicationFactor)
	}
}

func (s Sender) validate(p *problems, topics Topics) {
	nonEmpty(p, "sender.group", s.Group)
	for i, d := range s.RetryDelays {
		key := fmt.Sprintf("sender.retryDelays[%d]", i)
		positive(p, key, d)
		if err := topicName(topics.Retry(d)); d > 0 && err != nil {
			p.add(key, "%s makes retry topic %q, which %v", d, topics.Retry(d), err)
		}
	}
	if s.RetryJitter < 0 || s.RetryJitter > 1 {
		p.add("sender.retryJitter", "%v must be between 0 and 1", s.RetryJitter)
	}
	for i, cidr := range s.AllowedCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			p.add(fmt.Sprintf("sender.allowedCIDRs[%d]", i), "%q is not a CIDR like 10.0.0.0/8", cidr)
		}
	}
	positive(p, "sender.connectTimeout", s.ConnectTimeout)
	positive(p, "sender.requestTimeout", s.RequestTimeout)
	if s.ConnectTimeout > s.RequestTimeout {
		p.add("sender.connectTimeout", "%s must not exceed sender.requestTimeout (%s)", s.ConnectTimeout, s.RequestTimeout)
	}
	if s.MaxResponseBytes <= 0 {
		p.add("sender.maxResponseBytes", "%d must be positive", s.MaxResponseBytes)
	}
	if s.EndpointConcurrency <= 0 {
		p.add("sender.endpointConcurrency", "%d must be positive", s.EndpointConcurrency)
	}
	if s.MaxInFlight <= 0 {
		p.add("sender.maxInFlight", "%d must be positive", s.MaxInFlight)
	}
	if s.Breaker.Failures <= 0 {
		p.add("sender.breaker.failures", "%d must be positive", s.Breaker.Failures)
	}
	positive(p, "sender.breaker.openFor", s.Breaker.OpenFor)
	positive(p, "sender.queueTimeout", s.QueueTimeout)
	positive(p, "sender.deliveredTTL", s.DeliveredTTL)
	positive(p, "sender.commitInterval", s.CommitInterval)
	positive(p, "sender.shutdownTimeout", s.ShutdownTimeout)
	ids := map[string]int{}
	for i, sub := range s.Subscriptions {
		key := fmt.Sprintf("sender.subscriptions[%d]", i)
		if first, dup := ids[sub.ID]; dup && sub.ID != "" {
			p.add(key+".id", "%q is also the id of sender.subscriptions[%d]", sub.ID, first)
		} else {
			ids[sub.ID] = i
		}
		sub.validate(p, key)
	}
}

// Headers a subscription may not set: the sender writes them itself.
var reservedHeaders = []string{
	"content-type", "content-length", "host", "connection", "transfer-encoding", "user-agent",
	"webhook-id", "webhook-timestamp", "webhook-signature",
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (s Subscription) validate(p *problems, key string) {
	nonEmpty(p, key+".id", s.ID)
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key+".url", "%q is not an http:// or https:// URL", redactURL(s.URL))
	}
	for i, h := range s.Headers {
		hkey := fmt.Sprintf("%s.headers[%d].name", key, i)
		switch {
		case !headerNameRE.MatchString(h.Name):
			p.add(hkey, "%q is not an HTTP header name", h.Name)
		case slices.Contains(reservedHeaders, strings.ToLower(h.Name)):
			p.add(hkey, "%q is set by the sender itself", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n") {
			p.add(fmt.Sprintf("%s.headers[%d].value", key, i), "must not contain a line break")
		}
	}
	for i, secret := range s.Secrets {
		// The value stays out of the message: it is a secret.
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(raw) == 0 {
			p.add(fmt.Sprintf("%s.secrets[%d]", key, i), "is not a Standard Webhooks secret (whsec_ and base64)")
		}
	}
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
