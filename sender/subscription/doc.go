// Package subscription is what the sender knows about who receives which webhook: the
// subscriptions of the config file and those of the webhook_subscription table, materialized
// from its Debezium change topic (with the tenant topic, to map a subscription's tenant to the
// events' store code) by every sender instance from all partitions. It matches an event to its
// subscriptions by store code and event name. Inactive, deleted and unreadable subscriptions
// receive nothing. It must never log or put into an error a signing secret or a header value.
package subscription
