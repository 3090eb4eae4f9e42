// Package charts holds the Helm chart of loyaltyhooks (charts/loyaltyhooks) and the tests that
// render it with the Helm library and check every manifest against the Kubernetes API types.
// Nothing imports it; it must never hold code that a binary runs.
package charts
