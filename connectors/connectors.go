package connectors

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

//go:embed postgres/schema.sql debezium/*.json
var files embed.FS

// PublicationName is the PostgreSQL publication that schema.sql creates and the connectors read.
const PublicationName = "loyaltyhooks"

// SchemaSQL returns the DDL of connectors/postgres/schema.sql.
func SchemaSQL() []byte {
	b, err := files.ReadFile("postgres/schema.sql")
	if err != nil {
		panic(err) // embedded at build time: a missing file is a build defect
	}
	return b
}

// Connector is a Kafka Connect connector registration: the body of POST /connectors.
type Connector struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

// ConnectorJSON returns the Debezium connector registration for a loyaltyhooks source.format
// ("json" or "avro") exactly as stored in connectors/debezium.
func ConnectorJSON(format string) ([]byte, error) {
	switch format {
	case config.FormatJSON, config.FormatAvro:
		return files.ReadFile("debezium/postgres-" + format + ".json")
	}
	return nil, fmt.Errorf("connectors: source.format %q has no connector config (want %q or %q)",
		format, config.FormatJSON, config.FormatAvro)
}

// ConnectorConfig returns the parsed connector registration for a source.format.
func ConnectorConfig(format string) (Connector, error) {
	b, err := ConnectorJSON(format)
	if err != nil {
		return Connector{}, err
	}
	var c Connector
	if err := json.Unmarshal(b, &c); err != nil {
		return Connector{}, fmt.Errorf("connectors: debezium/postgres-%s.json: %w", format, err)
	}
	return c, nil
}

// Tables returns the schema-qualified tables of the connector's table.include.list.
func (c Connector) Tables() []string {
	list := c.Config["table.include.list"]
	if list == "" {
		return nil
	}
	tables := strings.Split(list, ",")
	for i := range tables {
		tables[i] = strings.TrimSpace(tables[i])
	}
	return tables
}
