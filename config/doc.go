// Package config is the one place where every loyaltyhooks setting is defined, defaulted, read
// (built-in defaults, then an optional YAML file, then LOYALTYHOOKS_* environment variables, then
// flags), validated and printed; Config's struct tags are the config keys, and every error names
// the key at fault. It must never log, print or put into an error a secret: passwords, and
// passwords inside URLs, are redacted wherever a value leaves the package, and new secret fields
// are redacted by tagging them `secret:"true"` or `secret:"url"`. It reads files and the
// environment but never connects to anything.
package config
