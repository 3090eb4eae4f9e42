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
		},
		Metrics: Metrics{Addr: ":9464"},
		Log:     Log{Level: "info", Format: "json"},
	}
}
