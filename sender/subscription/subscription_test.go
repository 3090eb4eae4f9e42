package subscription

import (
	"slices"
	"strings"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

const (
	tenantA = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000001"
	tenantB = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000002"
	secret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func tenant(op cdc.Op, id, code string) *cdc.Change {
	row := &cdc.Row{Columns: []cdc.Column{{Name: "tenant_id", Value: cdc.StringValue(id)}, {Name: "code", Value: cdc.StringValue(code)}}}
	ch := &cdc.Change{Table: TenantTable, Op: op, Key: &cdc.Row{Columns: row.Columns[:1]}, After: row}
	if op == cdc.OpDelete {
		ch.Before, ch.After = row, nil
	}
	return ch
}

func subRow(op cdc.Op, id, tenantID, event, url string, active bool, extra ...cdc.Column) *cdc.Change {
	row := &cdc.Row{Columns: []cdc.Column{
		{Name: "subscription_id", Value: cdc.StringValue(id)},
		{Name: "tenant_id", Value: cdc.StringValue(tenantID)},
		{Name: "event_name", Value: cdc.StringValue(event)},
		{Name: "url", Value: cdc.StringValue(url)},
		{Name: "destination_type", Value: cdc.StringValue("rest")},
		{Name: "active", Value: cdc.BoolValue(active)},
	}}
	for _, c := range extra {
		row.Set(c.Name, c.Value)
	}
	ch := &cdc.Change{Table: SubscriptionTable, Op: op, Key: &cdc.Row{Columns: row.Columns[:1]}, After: row}
	if op == cdc.OpDelete {
		ch.Before, ch.After = row, nil
	}
	return ch
}

func ids(subs []*Subscription) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

func TestMatchByStoreAndEvent(t *testing.T) {
	file, err := FromConfig([]config.Subscription{
		{ID: "all", URL: "https://all.example/hooks"},
		{ID: "registrations", URL: "https://crm.example/hooks", EventNames: []string{"CustomerRegistered"}},
		{ID: "store-b", URL: "https://b.example/hooks", StoreCode: "B"},
		{ID: "store-b-points", URL: "https://b.example/points", StoreCode: "B", EventNames: []string{"AvailablePointsAmountChanged"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	v := NewView(file)
	if problems := v.Apply([]*cdc.Change{
		tenant(cdc.OpRead, tenantA, "A"),
		subRow(cdc.OpRead, "t1", tenantA, "CustomerRegistered", "https://a.example/reg", true),
		subRow(cdc.OpRead, "t2", tenantA, "CustomerRegistered", "https://a.example/off", false),
		subRow(cdc.OpRead, "t3", tenantB, "CustomerRegistered", "https://b.example/reg", true), // tenant B not known yet
	}); len(problems) != 0 {
		t.Fatal(problems)
	}
	cases := []struct {
		store, event string
		want         []string
	}{
		{"A", "CustomerRegistered", []string{"all", "registrations", "t1"}},
		{"A", "CustomerUpdated", []string{"all"}},
		{"B", "CustomerRegistered", []string{"all", "registrations", "store-b"}},
		{"B", "AvailablePointsAmountChanged", []string{"all", "store-b", "store-b-points"}},
		{"", "CustomerRegistered", []string{"all", "registrations"}},
	}
	for _, c := range cases {
		if got := ids(v.Match(c.store, c.event)); !slices.Equal(got, c.want) {
			t.Errorf("Match(%q, %q) = %v, want %v", c.store, c.event, got, c.want)
		}
	}

	// Tenant B arrives; t1 is deactivated; t3 is deleted afterwards.
	v.Apply([]*cdc.Change{tenant(cdc.OpCreate, tenantB, "B"), subRow(cdc.OpUpdate, "t1", tenantA, "CustomerRegistered", "https://a.example/reg", false)})
	if got := ids(v.Match("B", "CustomerRegistered")); !slices.Equal(got, []string{"all", "registrations", "store-b", "t3"}) {
		t.Errorf("after tenant B: %v", got)
	}
	if got := ids(v.Match("A", "CustomerRegistered")); !slices.Equal(got, []string{"all", "registrations"}) {
		t.Errorf("after deactivating t1: %v", got)
	}
	v.Apply([]*cdc.Change{subRow(cdc.OpDelete, "t3", tenantB, "CustomerRegistered", "https://b.example/reg", true)})
	if v.Get("t3") != nil || v.Get("t1") != nil || v.Get("all") == nil {
		t.Errorf("Get after delete: t3=%v t1=%v all=%v", v.Get("t3"), v.Get("t1"), v.Get("all"))
	}
}

func TestTableRowHeadersAndSecrets(t *testing.T) {
	v := NewView(nil)
	v.Apply([]*cdc.Change{
		tenant(cdc.OpRead, tenantA, "A"),
		subRow(cdc.OpRead, "signed", tenantA, "CustomerRegistered", "https://a.example/x", true,
			cdc.Column{Name: "headers", Value: cdc.JSONValue(`[{"headerName":"Authorization","headerValue":"Bearer s3cret-token"}]`)},
			cdc.Column{Name: "hmac_enabled", Value: cdc.BoolValue(true)},
			cdc.Column{Name: "hmac_secret", Value: cdc.StringValue(secret + " " + secret)}),
	})
	s := v.Get("signed")
	if s == nil {
		t.Fatal("subscription not used")
	}
	if len(s.Secrets) != 2 || len(s.Headers) != 1 || s.Headers[0] != (Header{"Authorization", "Bearer s3cret-token"}) {
		t.Errorf("subscription = %+v", s)
	}
	if strings.Contains(s.String(), "s3cret") || strings.Contains(s.String(), "MfKQ") {
		t.Errorf("String reveals a secret: %s", s)
	}
}

// Unusable rows are left out with a reason that repeats no secret.
func TestUnusableRowsAreLeftOut(t *testing.T) {
	v := NewView(nil)
	problems := v.Apply([]*cdc.Change{
		tenant(cdc.OpRead, tenantA, "A"),
		subRow(cdc.OpRead, "bad-secret", tenantA, "CustomerRegistered", "https://a.example/x", true,
			cdc.Column{Name: "hmac_enabled", Value: cdc.BoolValue(true)},
			cdc.Column{Name: "hmac_secret", Value: cdc.StringValue("whsec_***s3cret***")}),
		subRow(cdc.OpRead, "bad-url", tenantA, "CustomerRegistered", "ftp://user:s3cret@a.example/x", true),
		subRow(cdc.OpRead, "bad-header", tenantA, "CustomerRegistered", "https://a.example/x", true,
			cdc.Column{Name: "headers", Value: cdc.JSONValue(`[{"headerName":"Content-Type","headerValue":"s3cret"}]`)}),
		subRow(cdc.OpRead, "queue", tenantA, "CustomerRegistered", "https://sqs.example/q", true,
			cdc.Column{Name: "destination_type", Value: cdc.StringValue("queue")}),
	})
	if len(problems) != 4 {
		t.Fatalf("problems = %v", problems)
	}
	for _, p := range problems {
		if strings.Contains(p.Error(), "s3cret") {
			t.Errorf("a problem reveals a secret: %v", p)
		}
	}
	if v.Set().Len() != 0 {
		t.Errorf("%d subscriptions in use", v.Set().Len())
	}
}

func TestFromConfigNamesTheKey(t *testing.T) {
	_, err := FromConfig([]config.Subscription{
		{ID: "ok", URL: "https://a.example/x", Secrets: []string{secret}},
		{ID: "bad", URL: "mailto:x@y", Secrets: []string{"whsec_%%s3cret"}, Headers: []config.Header{{Name: "webhook-id", Value: "x"}}},
	})
	for _, want := range []string{"sender.subscriptions[1].url", "sender.subscriptions[1].secrets[0]", "sender.subscriptions[1].headers"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err reveals a secret: %v", err)
	}
}
