package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The request headers of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts a secret in its text form.
const secretPrefix = "whsec_"

// version is the signature scheme this package writes and reads: symmetric HMAC-SHA256.
const version = "v1"

// Secret is a signing key, decoded. Its String method hides it, so printing a Secret by
// accident reveals nothing.
type Secret struct{ key []byte }

// ParseSecret reads a secret in the form "whsec_<base64>"; the prefix may be left out.
func ParseSecret(s string) (Secret, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil || len(key) == 0 {
		// The text is not repeated: it would be the secret.
		return Secret{}, errors.New("signature: a secret is whsec_ followed by standard base64")
	}
	return Secret{key: key}, nil
}

// String hides the key.
func (Secret) String() string { return "[secret]" }

// GoString hides the key from %#v too.
func (Secret) GoString() string { return "signature.Secret{[secret]}" }

// Sign returns the value of the webhook-signature header for a message: one "v1,<base64>"
// signature per secret, separated by spaces, in the order of the secrets.
func Sign(secrets []Secret, id string, timestamp time.Time, body []byte) string {
	return string(AppendSign(nil, secrets, id, timestamp.Unix(), body))
}

// AppendSign appends the webhook-signature value for a message with the given Unix timestamp.
func AppendSign(dst []byte, secrets []Secret, id string, unix int64, body []byte) []byte {
	var ts [20]byte
	stamp := strconv.AppendInt(ts[:0], unix, 10)
	var sum [sha256.Size]byte
	for i, s := range secrets {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, version+","...)
		dst = base64.StdEncoding.AppendEncode(dst, mac(sum[:0], s.key, id, stamp, body))
	}
	return dst
}

// mac computes HMAC-SHA256(key, id "." timestamp "." body).
func mac(dst, key []byte, id string, stamp, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(stamp)
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(dst)
}

// Set writes the three Standard Webhooks headers of a message into h.
func Set(h http.Header, secrets []Secret, id string, timestamp time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, Sign(secrets, id, timestamp, body))
}

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("signature: webhook-id, webhook-timestamp or webhook-signature missing")
	ErrTimestamp      = errors.New("signature: webhook-timestamp is not a Unix time in seconds")
	ErrTooOld         = errors.New("signature: webhook-timestamp is too old")
	ErrTooNew         = errors.New("signature: webhook-timestamp is too far in the future")
	ErrNoMatch        = errors.New("signature: no signature matches")
)

// encodedLen is the length of a base64 HMAC-SHA256.
var encodedLen = base64.StdEncoding.EncodedLen(sha256.Size)

// DefaultTolerance is how far a message's timestamp may be from the receiver's clock, as the
// specification recommends: it bounds how long a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// Verifier checks signed requests against one or more secrets (several while a key rotates).
type Verifier struct {
	secrets []Secret
	// Tolerance bounds the distance between the timestamp and Now (default DefaultTolerance).
	Tolerance time.Duration
	// Now is the receiver's clock (default time.Now).
	Now func() time.Time
}

// NewVerifier parses the secrets ("whsec_<base64>") a receiver accepts.
func NewVerifier(secrets ...string) (*Verifier, error) {
	v := &Verifier{Tolerance: DefaultTolerance, Now: time.Now}
	for _, s := range secrets {
		sec, err := ParseSecret(s)
		if err != nil {
			return nil, err
		}
		v.secrets = append(v.secrets, sec)
	}
	if len(v.secrets) == 0 {
		return nil, errors.New("signature: a verifier needs at least one secret")
	}
	return v, nil
}

// Verify checks the Standard Webhooks headers of a request against its raw body: the
// timestamp within the tolerance, and at least one v1 signature made with one of the secrets.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyValues(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body)
}

// VerifyValues is Verify with the three header values given directly.
func (v *Verifier) VerifyValues(id, timestamp, signatures string, body []byte) error {
	if id == "" || timestamp == "" || signatures == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if err := v.checkTime(time.Unix(unix, 0)); err != nil {
		return err
	}
	var want [sha256.Size]byte
	var got [sha256.Size + 2]byte // a base64 HMAC-SHA256 decodes to 32 bytes, padding aside
	for _, s := range v.secrets {
		sum := mac(want[:0], s.key, id, []byte(timestamp), body)
		for _, sig := range strings.Fields(signatures) {
			ver, encoded, ok := strings.Cut(sig, ",")
			if !ok || ver != version || len(encoded) != encodedLen {
				continue // other schemes (v1a, asymmetric) are not ours to check
			}
			n, err := base64.StdEncoding.Decode(got[:], []byte(encoded))
			if err == nil && hmac.Equal(got[:n], sum) {
				return nil
			}
		}
	}
	return ErrNoMatch
}

func (v *Verifier) checkTime(t time.Time) error {
	now, tolerance := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	switch d := now().Sub(t); {
	case d > tolerance:
		return ErrTooOld
	case d < -tolerance:
		return ErrTooNew
	}
	return nil
}
