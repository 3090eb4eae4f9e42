package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
)

// The example of the Standard Webhooks specification's reference libraries.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustSecret(t *testing.T, s string) signature.Secret {
	t.Helper()
	sec, err := signature.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestSignMatchesTheSpecificationExample(t *testing.T) {
	got := signature.Sign([]signature.Secret{mustSecret(t, specSecret)}, specID, time.Unix(specTimestamp, 0), []byte(specBody))
	if got != specSignature {
		t.Errorf("Sign = %s, want %s", got, specSignature)
	}
}

// independentSign follows the specification's text step by step, sharing no code with the
// package: strip whsec_, base64-decode the key, HMAC-SHA256 over id.timestamp.body, base64.
func independentSign(secret, id string, unix int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, unix, body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestRotationSignsWithEverySecret(t *testing.T) {
	old, current := "whsec_"+base64.StdEncoding.EncodeToString([]byte("an old key of some length")),
		"whsec_"+base64.StdEncoding.EncodeToString([]byte("the new key, longer than the old one"))
	ts := time.Unix(1767225600, 0)
	body := []byte(`{"messageId":"x","data":{}}`)
	h := http.Header{}
	signature.Set(h, []signature.Secret{mustSecret(t, current), mustSecret(t, old)}, "msg-1", ts, body)

	want := independentSign(current, "msg-1", ts.Unix(), body) + " " + independentSign(old, "msg-1", ts.Unix(), body)
	if got := h.Get(signature.HeaderSignature); got != want {
		t.Errorf("webhook-signature = %s, want %s", got, want)
	}
	if h.Get(signature.HeaderID) != "msg-1" || h.Get(signature.HeaderTimestamp) != "1767225600" {
		t.Errorf("headers: %v", h)
	}
	for _, secret := range []string{old, current} {
		v, err := signature.NewVerifier(secret)
		if err != nil {
			t.Fatal(err)
		}
		v.Now = func() time.Time { return ts.Add(time.Minute) }
		if err := v.Verify(h, body); err != nil {
			t.Errorf("a receiver holding one of the secrets: %v", err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	ts := time.Unix(1767225600, 0)
	body := []byte(`{"a":1}`)
	good := independentSign(specSecret, "id-1", ts.Unix(), body)
	v, err := signature.NewVerifier(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return ts }
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("not the receiver's key"))
	cases := []struct {
		name, id, stamp, sig, body string
		want                       error
	}{
		{"valid", "id-1", "1767225600", good, string(body), nil},
		{"valid among other schemes", "id-1", "1767225600", "v1a,abc " + good, string(body), nil},
		{"body changed", "id-1", "1767225600", good, `{"a":2}`, signature.ErrNoMatch},
		{"id changed", "id-2", "1767225600", good, string(body), signature.ErrNoMatch},
		{"another key", "id-1", "1767225600", independentSign(other, "id-1", ts.Unix(), body), string(body), signature.ErrNoMatch},
		{"v2 scheme only", "id-1", "1767225600", strings.Replace(good, "v1,", "v2,", 1), string(body), signature.ErrNoMatch},
		{"garbage signature", "id-1", "1767225600", "v1,!!!!" + strings.Repeat("A", 200), string(body), signature.ErrNoMatch},
		{"too old", "id-1", "1767225000", independentSign(specSecret, "id-1", 1767225000, body), string(body), signature.ErrTooOld},
		{"too new", "id-1", "1767226000", independentSign(specSecret, "id-1", 1767226000, body), string(body), signature.ErrTooNew},
		{"timestamp in ms", "id-1", "1767225600000", good, string(body), signature.ErrTooNew},
		{"timestamp not a number", "id-1", "yesterday", good, string(body), signature.ErrTimestamp},
		{"no signature", "id-1", "1767225600", "", string(body), signature.ErrMissingHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.VerifyValues(c.id, c.stamp, c.sig, []byte(c.body))
			if !errors.Is(err, c.want) {
				t.Errorf("VerifyValues = %v, want %v", err, c.want)
			}
		})
	}
}

func TestSecretsStayOutOfText(t *testing.T) {
	_, err := signature.ParseSecret("whsec_not*base64*s3cret")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ParseSecret error = %v", err)
	}
	sec := mustSecret(t, specSecret)
	if s := fmt.Sprintf("%v %+v %s %#v", sec, sec, sec, sec); strings.Contains(s, "MfKQ") || strings.ContainsAny(s, "0123456789") {
		t.Errorf("a secret printed as %s", s)
	}
}
