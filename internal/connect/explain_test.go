package connect

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Answers of a real broker that the in-process one does not give: a mechanism it does not
// offer (refused at the handshake), and a refused login answered with an error code.
func TestExplainBrokerAnswers(t *testing.T) {
	c := config.Kafka{SASL: config.SASL{Mechanism: "SCRAM-SHA-512", Username: "loyalty"}}
	err := explainKafka("kafka-0:9093", c, new(saslProgress), kerr.UnsupportedSaslMechanism)
	want := "kafka broker kafka-0:9093: the broker does not offer SASL SCRAM-SHA-512 (kafka.sasl.mechanism): UNSUPPORTED_SASL_MECHANISM"
	if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("unsupported mechanism: %v", err)
	}

	began := new(saslProgress)
	began.begun.Add(1)
	refused := fmt.Errorf("%w: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512", kerr.SaslAuthenticationFailed)
	err = explainKafka("kafka-0:9093", c, began, refused)
	want = `kafka broker kafka-0:9093: SASL SCRAM-SHA-512 login as "loyalty" refused: SASL_AUTHENTICATION_FAILED`
	if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("refused login: %v", err)
	}
}
