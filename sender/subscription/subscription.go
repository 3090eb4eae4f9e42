package subscription

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/sender/endpoint"
	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
)

// Where a subscription comes from.
const (
	FromFile  = "config"
	FromTable = "table"
)

// Subscription is one receiver of webhooks.
type Subscription struct {
	ID         string
	Origin     string   // FromFile or FromTable
	StoreCode  string   // "" matches every store (file subscriptions only)
	TenantID   string   // the tenant of a table subscription; its store code comes from the tenant topic
	EventNames []string // empty matches every event
	URL        string
	Endpoint   string // endpoint.Key of URL: what the concurrency cap and breaker are kept by
	Headers    []Header
	Secrets    []signature.Secret // empty: requests are not signed
}

// Header is one custom request header.
type Header struct{ Name, Value string }

// String describes the subscription without its URL's path and query, header values or
// secrets, for logs.
func (s *Subscription) String() string {
	return fmt.Sprintf("%s subscription %s → %s", s.Origin, s.ID, s.Endpoint)
}

// Reserved are headers a subscription cannot set: the sender writes them itself.
var Reserved = []string{
	"content-type", "content-length", "host", "connection", "transfer-encoding", "user-agent",
	signature.HeaderID, signature.HeaderTimestamp, signature.HeaderSignature,
}

// FromConfig reads the subscriptions of the config file, naming the key of any problem.
func FromConfig(cs []config.Subscription) ([]*Subscription, error) {
	var out []*Subscription
	var errs []error
	for i, c := range cs {
		key := fmt.Sprintf("sender.subscriptions[%d]", i)
		s := &Subscription{ID: c.ID, Origin: FromFile, StoreCode: c.StoreCode, EventNames: c.EventNames}
		var err error
		if s.URL, s.Endpoint, err = parseURL(c.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", key, err))
		}
		for _, h := range c.Headers {
			if slices.Contains(Reserved, strings.ToLower(h.Name)) {
				errs = append(errs, fmt.Errorf("%s.headers: %q is set by the sender itself", key, h.Name))
			}
			s.Headers = append(s.Headers, Header{Name: h.Name, Value: h.Value})
		}
		for j, text := range c.Secrets {
			sec, err := signature.ParseSecret(text)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.secrets[%d]: %w", key, j, err))
			}
			s.Secrets = append(s.Secrets, sec)
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// parseURL checks a receiver URL and returns it with its endpoint key.
func parseURL(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Neither the URL nor the parser's error is repeated: either may hold a credential.
		return "", "", errors.New("not an http:// or https:// URL")
	}
	return raw, endpoint.Key(u), nil
}

// tableHeader is one element of the headers jsonb column, as Open Loyalty names its fields.
type tableHeader struct {
	Name  string `json:"headerName"`
	Value string `json:"headerValue"`
}

// fromRow reads a webhook_subscription row. It returns nil and no error for a row that
// receives nothing (inactive), and an error for one that cannot be used; errors never carry
// the row's secret or header values.
func fromRow(id string, row *cdc.Row) (*Subscription, error) {
	if !row.Get("active").Bool() {
		return nil, nil
	}
	if d := row.Get("destination_type").Text(); d != "" && d != "rest" {
		return nil, fmt.Errorf("destination type %q is not supported; only rest", d)
	}
	s := &Subscription{ID: id, Origin: FromTable, TenantID: row.Get("tenant_id").Text()}
	if s.TenantID == "" {
		return nil, errors.New("no tenant_id")
	}
	event := row.Get("event_name").Text()
	if event == "" {
		return nil, errors.New("no event_name")
	}
	s.EventNames = []string{event}
	var err error
	if s.URL, s.Endpoint, err = parseURL(row.Get("url").Text()); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if h := row.Get("headers"); h.Known() && h.Str != "" && h.Str != "null" {
		var hs []tableHeader
		if err := json.Unmarshal([]byte(h.Str), &hs); err != nil {
			return nil, errors.New("headers: not a JSON array of {headerName, headerValue}")
		}
		for _, x := range hs {
			if x.Name == "" || slices.Contains(Reserved, strings.ToLower(x.Name)) || strings.ContainsAny(x.Value, "\r\n") {
				return nil, fmt.Errorf("headers: %q cannot be set", x.Name)
			}
			s.Headers = append(s.Headers, Header(x))
		}
	}
	if row.Get("hmac_enabled").Bool() {
		// Several secrets, space-separated, sign with each while a key rotates.
		for _, text := range strings.Fields(row.Get("hmac_secret").Text()) {
			sec, err := signature.ParseSecret(text)
			if err != nil {
				return nil, fmt.Errorf("hmac_secret: %w", err)
			}
			s.Secrets = append(s.Secrets, sec)
		}
		if len(s.Secrets) == 0 {
			return nil, errors.New("hmac_enabled without an hmac_secret")
		}
	}
	return s, nil
}
