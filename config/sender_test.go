package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSenderKeysFromTheEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOYALTYHOOKS_SENDER_RETRYDELAYS", "1s, 2s,90m")
	t.Setenv("LOYALTYHOOKS_SENDER_ALLOWEDCIDRS", "10.20.0.0/16,127.0.0.1/32")
	t.Setenv("LOYALTYHOOKS_SENDER_GROUP", "hooks")
	t.Setenv("LOYALTYHOOKS_SENDER_BREAKER_OPENFOR", "1m")
	c := mustLoad(t, "", nil)
	if want := []time.Duration{time.Second, 2 * time.Second, 90 * time.Minute}; !slices.Equal(c.Sender.RetryDelays, want) {
		t.Errorf("retryDelays = %v, want %v", c.Sender.RetryDelays, want)
	}
	if want := []string{"10.20.0.0/16", "127.0.0.1/32"}; !slices.Equal(c.Sender.AllowedCIDRs, want) {
		t.Errorf("allowedCIDRs = %v", c.Sender.AllowedCIDRs)
	}
	if c.Sender.Group != "hooks" || c.Sender.Breaker.OpenFor != time.Minute {
		t.Errorf("sender = %+v", c.Sender)
	}
}

func TestRetryTierNames(t *testing.T) {
	topics := Defaults().Topics
	for d, want := range map[time.Duration]string{
		5 * time.Second:         "loyalty.webhooks.retry.5s",
		5 * time.Minute:         "loyalty.webhooks.retry.5m",
		2 * time.Hour:           "loyalty.webhooks.retry.2h",
		90 * time.Minute:        "loyalty.webhooks.retry.1h30m",
		1500 * time.Millisecond: "loyalty.webhooks.retry.1.5s",
		61 * time.Second:        "loyalty.webhooks.retry.1m1s",
	} {
		if got := topics.Retry(d); got != want {
			t.Errorf("Retry(%s) = %s, want %s", d, got, want)
		}
	}
	if got := Defaults().Sender.Tiers(); len(got) != 6 || got[0] != 5*time.Second || got[5] != 10*time.Hour {
		t.Errorf("Tiers() = %v, want the 6 distinct default delays, shortest first", got)
	}
}

func TestSenderValidation(t *testing.T) {
	c := validConfig()
	c.Sender.RetryDelays = []time.Duration{time.Second, 0}
	c.Sender.RetryJitter = 1.5
	c.Sender.AllowedCIDRs = []string{"10.0.0.0/8", "10.0.0.1"}
	c.Sender.ConnectTimeout = time.Minute
	c.Sender.Subscriptions = []Subscription{
		{ID: "a", URL: "https://hooks.example/a", Secrets: []string{"whsec_bm90IGEgc2VjcmV0"}},
		{ID: "a", URL: "ftp://user:pa55word@hooks.example/", Secrets: []string{"whsec_%%s3cret%%"},
			Headers: []Header{{Name: "Webhook-Signature", Value: "x"}, {Name: "bad name", Value: "v"}, {Name: "X-Ok", Value: "a\r\nb"}}},
		{URL: "https://hooks.example/c"},
	}
	err := c.Validate()
	for _, want := range []string{
		"sender.retryDelays[1]: 0s must be positive",
		"sender.retryJitter: 1.5 must be between 0 and 1",
		`sender.allowedCIDRs[1]: "10.0.0.1" is not a CIDR`,
		"sender.connectTimeout: 1m0s must not exceed sender.requestTimeout",
		`sender.subscriptions[1].id: "a" is also the id of sender.subscriptions[0]`,
		"sender.subscriptions[1].url: \"ftp://user:[redacted]@hooks.example/\" is not an http:// or https:// URL",
		"sender.subscriptions[1].secrets[0]: is not a Standard Webhooks secret",
		`sender.subscriptions[1].headers[0].name: "Webhook-Signature" is set by the sender itself`,
		`sender.subscriptions[1].headers[1].name: "bad name" is not an HTTP header name`,
		"sender.subscriptions[1].headers[2].value: must not contain a line break",
		`sender.subscriptions[2].id: "" must not be empty`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pa55word") {
		t.Errorf("a secret leaked into the errors:\n%v", err)
	}
}

func TestPrintRedactsSubscriptionSecrets(t *testing.T) {
	c := validConfig()
	c.Sender.Subscriptions = []Subscription{{
		ID: "crm", URL: "https://hooks.example/x",
		Headers: []Header{{Name: "Authorization", Value: "Bearer tok-s3cret"}},
		Secrets: []string{"whsec_s3cret"},
	}}
	out := printString(t, c)
	if strings.Contains(out, "s3cret") {
		t.Errorf("a secret leaked:\n%s", out)
	}
	if !strings.Contains(out, "name: Authorization") || !strings.Contains(out, "id: crm") {
		t.Errorf("subscription not printed:\n%s", out)
	}
}
