// Package signature signs and verifies webhook requests per the Standard Webhooks specification
// (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp and
// webhook-signature, the last holding one or more space-separated "v1,<base64 HMAC-SHA256>"
// signatures over "<id>.<timestamp>.<body>", keyed with the base64 secret that follows "whsec_".
// Receivers written in Go can import it to check what loyaltyhooks sends. It depends on the
// standard library only, and it must never put a secret or a computed signature into an error
// or a log line.
package signature
