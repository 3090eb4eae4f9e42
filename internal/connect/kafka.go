package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// ResumableFetchWait is how long a fetch waits for new records in a client that pauses and
// resumes what it reads (kgo's default is 5 s): a resumed topic or partition is fetched only once
// the fetch in flight returns, which waits this long when the rest have nothing new.
const ResumableFetchWait = 200 * time.Millisecond

// Timeouts of connecting and of the checks.
const (
	dialTimeout  = 10 * time.Second
	checkTimeout = 15 * time.Second
)

// Kafka returns the client options that reach the configured cluster: seed brokers, client id,
// TLS (custom CA, client certificate, server name) and SASL (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512). Every Kafka client of the project starts from these.
func Kafka(c config.Kafka) ([]kgo.Opt, error) {
	return kafkaOptions(c, nil)
}

// KafkaClient is a plain (non-group, non-transactional) client of the configured cluster plus
// extra options, for admin work and reading.
func KafkaClient(c config.Kafka, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := Kafka(c)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// CheckKafka connects to the seed brokers in turn, with the configured TLS and SASL (and extra,
// e.g. a test's dialer), and returns nil as soon as one answers. Otherwise its error names every
// broker and why it failed: a refused password or mechanism, an untrusted certificate, a broker
// that is down. Run it before a client's first request: franz-go retries or waits on such
// failures without saying why, or says only "EOF".
func CheckKafka(ctx context.Context, c config.Kafka, extra ...kgo.Opt) error {
	var errs []error
	for _, seed := range c.Brokers {
		err := checkBroker(ctx, c, seed, extra)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkBroker asks one broker for metadata through a client of its own, so that what its SASL
// exchange reached is known for that broker alone.
func checkBroker(ctx context.Context, c config.Kafka, seed string, extra []kgo.Opt) error {
	progress := new(saslProgress)
	opts, err := kafkaOptions(c, progress)
	if err != nil {
		return err
	}
	opts = append(append(opts, extra...), kgo.SeedBrokers(seed))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topic: the cheapest question that needs a login
	_, err = cl.SeedBrokers()[0].Request(ctx, req)
	if err == nil {
		return nil
	}
	return explainKafka(seed, c, progress, err)
}

func kafkaOptions(c config.Kafka, progress *saslProgress) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	if c.TLS.Enabled {
		s := kafkaTLS(c.TLS)
		tc, err := s.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.Dialer(s.dialer(tc, dialTimeout)))
	}
	if c.SASL.Mechanism != "" {
		m, err := saslMechanism(c.SASL)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			m = watchedMechanism{m, progress}
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func kafkaTLS(c config.TLS) tlsSettings {
	return tlsSettings{service: "kafka broker", keys: "kafka.tls", caFile: c.CAFile,
		certFile: c.CertFile, keyFile: c.KeyFile, serverName: c.ServerName}
}

// saslMechanism logs in as kafka.sasl.username; the password comes from kafka.sasl.passwordFile
// when that is set, read for every new connection, else from kafka.sasl.password.
func saslMechanism(c config.SASL) (sasl.Mechanism, error) {
	password := func() (string, error) {
		if c.PasswordFile != "" {
			return config.ReadSecretFile("kafka.sasl.passwordFile", c.PasswordFile)
		}
		return c.Password, nil
	}
	if _, err := password(); err != nil {
		return nil, err
	}
	scramAuth := func(context.Context) (scram.Auth, error) {
		pass, err := password()
		return scram.Auth{User: c.Username, Pass: pass}, err
	}
	switch c.Mechanism {
	case "PLAIN":
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pass, err := password()
			return plain.Auth{User: c.Username, Pass: pass}, err
		}), nil
	case "SCRAM-SHA-256":
		return scram.Sha256(scramAuth), nil
	case "SCRAM-SHA-512":
		return scram.Sha512(scramAuth), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.Mechanism)
}

// saslProgress counts SASL exchanges begun and finished. One begun but not finished when the
// request fails means the broker refused the login; a broker refusing it often just closes the
// connection, which the client reports as a bare EOF.
type saslProgress struct{ begun, finished atomic.Int32 }

func (p *saslProgress) interrupted() bool { return p.begun.Load() > p.finished.Load() }

type watchedMechanism struct {
	sasl.Mechanism
	progress *saslProgress
}

func (m watchedMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	m.progress.begun.Add(1)
	return watchedSession{s, m.progress}, first, nil
}

type watchedSession struct {
	sasl.Session
	progress *saslProgress
}

func (s watchedSession) Challenge(resp []byte) (bool, []byte, error) {
	done, next, err := s.Session.Challenge(resp)
	if done && err == nil {
		s.progress.finished.Add(1)
	}
	return done, next, err
}

// brokerError is a failed check of one broker.
type brokerError struct {
	addr, cause string
	err         error
}

func (e *brokerError) Error() string { return "kafka broker " + e.addr + ": " + e.cause }
func (e *brokerError) Unwrap() error { return e.err }

// explainKafka says why a request to the broker at addr failed, in the config's terms.
func explainKafka(addr string, c config.Kafka, progress *saslProgress, err error) error {
	s := c.SASL
	var handshake *handshakeError
	switch {
	case errors.As(err, &handshake):
		return handshake // it names the broker already
	case progress.interrupted():
		cause := err.Error()
		if closedByPeer(err) {
			cause = "the broker closed the connection"
		}
		return &brokerError{addr, fmt.Sprintf("SASL %s login as %q refused: %s (check kafka.sasl.username and "+
			"kafka.sasl.password, and that the broker enables %s for this user)", s.Mechanism, s.Username, cause, s.Mechanism), err}
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return &brokerError{addr, fmt.Sprintf("the broker does not offer SASL %s (kafka.sasl.mechanism): %v", s.Mechanism, err), err}
	case errors.Is(err, context.DeadlineExceeded):
		return &brokerError{addr, fmt.Sprintf("no answer within %s", checkTimeout), err}
	}
	cause := err.Error()
	if c.TLS.Enabled {
		cause += tlsHint(err, kafkaTLS(c.TLS))
	}
	return &brokerError{addr, cause, err}
}

func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET)
}
