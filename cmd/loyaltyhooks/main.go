// Command loyaltyhooks turns Debezium change events of a loyalty database into Open Loyalty
// webhook events, exactly once, and delivers them. Run `loyaltyhooks --help` for its commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "loyaltyhooks:", err)
		os.Exit(1)
	}
}
