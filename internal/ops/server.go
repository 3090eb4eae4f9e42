package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ProbeTimeout bounds each readiness check, so that a hung broker or Redis makes /readyz answer
// "not ready" instead of making the kubelet's probe time out.
const ProbeTimeout = 2 * time.Second

// Check is one readiness condition: Probe returns nil while it holds.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve listens on addr and serves, until Close: /metrics from g; /healthz, which answers 200
// while the process runs; and /readyz, which answers 200 only when every check holds and 503
// naming the failed ones otherwise. It logs the address it listens on.
func Serve(addr string, g prometheus.Gatherer, log *slog.Logger, checks ...Check) (*Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { ready(w, r, checks) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.addr: %w", err)
	}
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	log.Info("operations server listening", "addr", ln.Addr().String())
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("operations server stopped; work goes on without it", "addr", addr, "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the port chosen when addr asked for :0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting requests in flight finish for a moment.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// ready runs every check at once and writes one line per check.
func ready(w http.ResponseWriter, r *http.Request, checks []Check) {
	ctx, cancel := context.WithTimeout(r.Context(), ProbeTimeout)
	defer cancel()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = c.Probe(ctx) })
	}
	wg.Wait()
	var body strings.Builder
	status := http.StatusOK
	for i, c := range checks {
		if errs[i] != nil {
			status = http.StatusServiceUnavailable
			fmt.Fprintf(&body, "%s: %v\n", c.Name, errs[i])
			continue
		}
		fmt.Fprintf(&body, "%s: ok\n", c.Name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body.String()))
}
