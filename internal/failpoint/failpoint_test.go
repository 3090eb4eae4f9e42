package failpoint_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/internal/failpoint"
)

func TestParse(t *testing.T) {
	got, err := failpoint.Parse(failpoint.AfterClaims + ":3, " + failpoint.AfterProduce)
	if err != nil {
		t.Fatal(err)
	}
	if got[failpoint.AfterClaims] != 3 || got[failpoint.AfterProduce] != 1 || len(got) != 2 {
		t.Fatalf("parsed %v", got)
	}
	for _, bad := range []string{"after-claims:2", failpoint.AfterClaims + ":0", failpoint.AfterClaims + ":x"} {
		if _, err := failpoint.Parse(bad); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
	if got, err := failpoint.Parse(""); err != nil || got != nil {
		t.Fatalf("empty spec: %v, %v", got, err)
	}
}

// TestHitKills runs this test binary again with a point armed for its third pass and checks that
// the child died by SIGKILL exactly there.
func TestHitKills(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		for i := 1; i <= 5; i++ {
			failpoint.Hit(failpoint.AfterLookupsFlush) // not armed: never kills
			os.Stdout.WriteString("pass\n")
			failpoint.Hit(failpoint.AfterClaims)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitKills$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", failpoint.Env+"="+failpoint.AfterClaims+":3")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", exit)
	}
	if n := strings.Count(string(out), "pass\n"); n != 3 {
		t.Fatalf("child passed %d times before dying, want 3", n)
	}
}
