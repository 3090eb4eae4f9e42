// Package sender delivers the events of the webhook topic to their subscribers over HTTP: the
// Open Loyalty envelope as the body, signed per Standard Webhooks, POSTed to every matching
// subscription. It is a separate process with its own consumer groups. A failed attempt is
// never retried inside the consume loop: it becomes a record on the retry tier topic whose delay
// comes next, read by that tier's consumer, whose partitions pause until their head is due;
// after the last tier the event and its attempt history go to the dead-letter topic. Deliveries
// of a partition run concurrently, in order per (subscription, member), behind a per-endpoint
// concurrency cap and circuit breaker, through a dialer that refuses private and metadata
// addresses. A record's offset is committed only once each of its deliveries is done or
// durably handed to a tier, and delivered (subscription, messageId) pairs are remembered in
// Redis so a re-read after a crash does not resend them.
//
// It must never import the processor, never log a signing secret or a custom header's value,
// and never follow a redirect.
package sender
