package config

import "time"

// Defaults returns the built-in value of every key: enough to run any command against a local
// Kafka and Redis. processor.instanceId stays empty here; Load fills it from the host name.
func Defaults() Config {
	tables := make(map[string]Table, len(LogicalTables))
	for _, t := range LogicalTables {
		tables[t] = Table{Name: t}
	}
	return Config{
		Kafka: Kafka{
			Brokers:  []string{"127.0.0.1:9092"},
			ClientID: "loyaltyhooks",
			// A lost processor's partitions must move again within a minute: the session timeout
			// notices the loss, the rebalance (kept below the session timeout) hands them over,
			// and the transaction timeout bounds how long its open transaction blocks them.
			SessionTimeout:     15 * time.Second,
			RebalanceTimeout:   10 * time.Second,
			TransactionTimeout: 20 * time.Second,
		},
		Redis: Redis{
			URL:       "redis://127.0.0.1:6379/0",
			KeyPrefix: "loyaltyhooks:",
		},
		Source: Source{
			TopicPrefix: "loyalty",
			Schema:      "public",
			Format:      FormatJSON,
			Tables:      tables,
		},
		Topics: Topics{
			Webhooks:      "loyalty.webhooks",
			CDCDeadLetter: "loyalty.webhooks.cdc-dlq",
			Timers:        "loyalty.webhooks.timers",
			Dead:          "loyalty.webhooks.dead",
			RetryPrefix:   "loyalty.webhooks.retry",
		},
		Processor: Processor{
			Group:           "loyaltyhooks-processor",
			MaxPollRecords:  1000,
			ShutdownTimeout: 20 * time.Second,
			DedupTTL:        7 * 24 * time.Hour,
			ReferenceLag:    1000,
		},
		Timers: Timers{
			NotificationDays: 10,
			Tick:             time.Second,
			MaxPerTick:       1000,
			LateLookupDelays: []time.Duration{
				time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
			},
			LateLookupGrace: 30 * time.Second,
		},
		Sender: Sender{
			Group: "loyaltyhooks-sender",
			RetryDelays: []time.Duration{
				5 * time.Second, 5 * time.Minute, 30 * time.Minute,
				2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
			},
			RetryJitter:         0.1,
			AllowedCIDRs:        []string{},
			ConnectTimeout:      5 * time.Second,
			RequestTimeout:      15 * time.Second,
			MaxResponseBytes:    64 << 10,
			EndpointConcurrency: 16,
			QueueTimeout:        2 * time.Second,
			MaxInFlight:         1000,
			Breaker:             Breaker{Failures: 5, OpenFor: 30 * time.Second},
			DeliveredTTL:        7 * 24 * time.Hour,
			CommitInterval:      time.Second,
			ShutdownTimeout:     20 * time.Second,
			Subscriptions:       []Subscription{},
		},
		Topology: Topology{
			SourcePartitions:  6,
			WebhookPartitions: 6,
			WebhookRetention:  7 * 24 * time.Hour,
			ReplicationFactor: -1,
		},
		Metrics: Metrics{Addr: ":9464"},
		Log:     Log{Level: "info", Format: "json"},
	}
}
