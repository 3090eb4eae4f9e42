// Package claim decides which events of a batch the processor may emit, so that the webhook topic
// holds each messageId once even when Debezium redelivers a change at another offset. Each event
// claims its messageId in Redis with the source coordinates of the change it came from: no claim
// yet means new, a claim with our own coordinates means we are replaying our own aborted batch,
// any other claim is a true duplicate. It must never emit an event it could not check: when Redis
// cannot answer, the whole batch fails and is retried.
package claim
