// Command xtdf-go-cli is xtdf's small command line on the OpenTDF Go SDK
// (github.com/opentdf/platform/sdk), so the matrix can run the newest Go SDK even where no
// otdfctl release built on it is served. Its flags mirror otdfctl's encrypt and decrypt,
// so sdk/go/cli.sh.in drives it as it drives otdfctl (sdk/gosdk/gosdk.mk).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opentdf/platform/lib/ocrypto"
	"github.com/opentdf/platform/sdk"
)

const tool = "xtdf-go-cli"

// usageError is a mistake in the command line (exit 2), not a failed operation (exit 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err == nil {
		return
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(os.Stderr, "%s@%s: usage error: %s\nusage: %s encrypt|decrypt [flags] FILE (see: %s help)\n",
			tool, sdk.Version, u.msg, tool, tool)
		os.Exit(2)
	}
	// one line: the SDK joins some errors with newlines
	fmt.Fprintf(os.Stderr, "%s@%s: error: %s\n", tool, sdk.Version, strings.ReplaceAll(err.Error(), "\n", "; "))
	os.Exit(1)
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("no command")
	}
	switch args[0] {
	case "--version", "version":
		return printVersion(stdout, args[1:])
	case "help", "--help", "-h":
		return printHelp(stdout, args[1:])
	case "encrypt", "decrypt":
		return runCommand(args[0], args[1:])
	}
	return usagef("unknown command %q (encrypt, decrypt, help or --version)", args[0])
}

func printVersion(w io.Writer, args []string) error {
	if len(args) > 1 || (len(args) == 1 && args[0] != "--json") {
		return usagef("--version takes only --json")
	}
	v := map[string]any{
		"version":            sdk.Version,
		"sdk_version":        sdk.Version,
		"schema_version":     sdk.TDFSpecVersion,
		"supported_features": sdk.SupportedFeatures(),
		"tool":               tool,
	}
	if len(args) == 0 {
		_, err := fmt.Fprintf(w, "%s on the OpenTDF Go SDK %s (TDF spec %s)\n", tool, sdk.Version, sdk.TDFSpecVersion)
		return err
	}
	return json.NewEncoder(w).Encode(v)
}

// options holds every flag of both commands; flagSet registers the ones a command takes.
type options struct {
	host, creds, logLevel, out                      string
	tlsNoVerify                                     bool
	tdfType, kasPath, mimeType, assertions, wrapAlg string
	targetMode                                      string
	attrs                                           []string
	verifyKeys, sessionAlg, allowlist               string
	noVerify                                        bool
}

type listFlag struct{ list *[]string }

func (l listFlag) String() string { return "" }
func (l listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l.list = append(*l.list, part)
		}
	}
	return nil
}

func flagSet(verb string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.host, "host", "", "platform endpoint, http(s)://host[:port] (required)")
	fs.StringVar(&o.creds, "with-client-creds", "", `client credentials as JSON: {"clientId":"...","clientSecret":"..."} (required)`)
	fs.BoolVar(&o.tlsNoVerify, "tls-no-verify", false, "do not verify the platform's TLS certificate")
	fs.StringVar(&o.logLevel, "log-level", "error", "SDK log level: debug, info, warn or error")
	fs.StringVar(&o.out, "out", "", "output file, written whole or not at all (required)")
	if verb == "encrypt" {
		fs.StringVar(&o.tdfType, "tdf-type", "ztdf", "container format: only ztdf (the Go SDK dropped NanoTDF in 0.12.0)")
		fs.StringVar(&o.kasPath, "kas-url-path", "/kas", "the KAS as a path on --host's origin")
		fs.StringVar(&o.mimeType, "mime-type", "", "MIME type of the plaintext")
		fs.Var(listFlag{&o.attrs}, "attr", "data attribute value FQNs, comma-separated or repeated")
		fs.StringVar(&o.assertions, "with-assertions", "", "assertions: a JSON list, or a file holding one")
		fs.StringVar(&o.wrapAlg, "wrapping-key-algorithm", "rsa:2048", "key wrapping: rsa:2048 or ec:secp256r1")
		fs.StringVar(&o.targetMode, "target-mode", "", "the TDF spec version to write, e.g. 4.2.2 (default: the SDK's)")
	} else {
		fs.StringVar(&o.verifyKeys, "with-assertion-verification-keys", "", `assertion verification keys: JSON {"keys":{ID:{"alg","key"}}}, or a file holding it`)
		fs.BoolVar(&o.noVerify, "no-verify-assertions", false, "do not verify assertions")
		fs.StringVar(&o.sessionAlg, "session-key-algorithm", "", "rewrap session key: rsa:2048 or ec:secp256r1")
		fs.StringVar(&o.allowlist, "kas-allowlist", "", "KAS URLs to trust, comma-separated; '*' trusts every KAS")
	}
	return fs
}

func printHelp(w io.Writer, args []string) error {
	if len(args) == 0 {
		_, err := fmt.Fprintf(w, "%s: encrypt and decrypt with the OpenTDF Go SDK %s\n\n"+
			"commands:\n  encrypt  encrypt FILE into a ZTDF (--out)\n  decrypt  decrypt the ZTDF FILE (--out)\n"+
			"  help [COMMAND], --version [--json]\n", tool, sdk.Version)
		return err
	}
	if len(args) != 1 || (args[0] != "encrypt" && args[0] != "decrypt") {
		return usagef("help takes encrypt or decrypt")
	}
	fs := flagSet(args[0], &options{})
	fmt.Fprintf(w, "usage: %s %s [flags] FILE\n\nflags:\n", tool, args[0])
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%s\t%s\n", f.Name, f.Usage)
	})
	return nil
}

func runCommand(verb string, args []string) error {
	var o options
	fs := flagSet(verb, &o)
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", verb, err)
	}
	if fs.NArg() != 1 {
		return usagef("%s takes exactly one FILE (got %d)", verb, fs.NArg())
	}
	if o.host == "" || o.creds == "" || o.out == "" {
		return usagef("%s needs --host, --with-client-creds and --out", verb)
	}
	level, ok := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError}[o.logLevel]
	if !ok {
		return usagef("--log-level %q: expected debug, info, warn or error", o.logLevel)
	}
	// check every option before any network traffic
	var (
		encOpts []sdk.TDFOption
		decOpts []sdk.TDFReaderOption
		err     error
	)
	if verb == "encrypt" {
		encOpts, err = encryptOptions(&o)
	} else {
		decOpts, err = decryptOptions(&o)
	}
	if err != nil {
		return err
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	defer in.Close()

	client, err := connect(&o, level)
	if err != nil {
		return err
	}
	defer client.Close()

	return writeWhole(o.out, func(w io.Writer) error {
		if verb == "encrypt" {
			_, err := client.CreateTDF(w, in, encOpts...)
			return err
		}
		r, err := client.LoadTDF(in, decOpts...)
		if err != nil {
			return err
		}
		_, err = r.WriteTo(w)
		return err
	})
}

func connect(o *options, level slog.Level) (*sdk.SDK, error) {
	var creds struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal([]byte(o.creds), &creds); err != nil || creds.ClientID == "" {
		return nil, usagef(`--with-client-creds: expected {"clientId":"...","clientSecret":"..."}`)
	}
	opts := []sdk.Option{
		sdk.WithClientCredentials(creds.ClientID, creds.ClientSecret, nil),
		sdk.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))),
	}
	switch {
	case strings.HasPrefix(o.host, "http://"):
		opts = append(opts, sdk.WithInsecurePlaintextConn())
	case strings.HasPrefix(o.host, "https://"):
		if o.tlsNoVerify {
			opts = append(opts, sdk.WithInsecureSkipVerifyConn())
		}
	default:
		return nil, usagef("--host %q: expected http(s)://host[:port]", o.host)
	}
	client, err := sdk.New(o.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", o.host, err)
	}
	return client, nil
}

func keyType(flagName, value string) (ocrypto.KeyType, error) {
	switch value {
	case string(ocrypto.RSA2048Key), string(ocrypto.EC256Key), string(ocrypto.EC384Key), string(ocrypto.EC521Key):
		return ocrypto.KeyType(value), nil
	}
	return "", usagef("--%s %q: expected rsa:2048, ec:secp256r1, ec:secp384r1 or ec:secp521r1", flagName, value)
}

func encryptOptions(o *options) ([]sdk.TDFOption, error) {
	if o.tdfType != "ztdf" && o.tdfType != "tdf3" {
		return nil, usagef("--tdf-type %q: this SDK writes only ztdf (NanoTDF left the Go SDK in 0.12.0)", o.tdfType)
	}
	if o.kasPath != "" && !strings.HasPrefix(o.kasPath, "/") {
		return nil, usagef("--kas-url-path %q: expected a path starting with /", o.kasPath)
	}
	opts := []sdk.TDFOption{sdk.WithKasInformation(sdk.KASInfo{URL: strings.TrimRight(o.host, "/") + o.kasPath})}
	if o.mimeType != "" {
		opts = append(opts, sdk.WithMimeType(o.mimeType))
	}
	if len(o.attrs) > 0 {
		opts = append(opts, sdk.WithDataAttributes(o.attrs...))
	}
	alg, err := keyType("wrapping-key-algorithm", o.wrapAlg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sdk.WithWrappingKeyAlg(alg))
	if o.targetMode != "" {
		opts = append(opts, sdk.WithTargetMode(o.targetMode))
	}
	if o.assertions != "" {
		list, err := parseAssertions(o.assertions)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdk.WithAssertions(list...))
	}
	return opts, nil
}

func decryptOptions(o *options) ([]sdk.TDFReaderOption, error) {
	var opts []sdk.TDFReaderOption
	if o.verifyKeys != "" {
		keys, err := parseVerificationKeys(o.verifyKeys)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdk.WithAssertionVerificationKeys(keys))
	}
	if o.noVerify {
		opts = append(opts, sdk.WithDisableAssertionVerification(true))
	}
	if o.sessionAlg != "" {
		alg, err := keyType("session-key-algorithm", o.sessionAlg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdk.WithSessionKeyType(alg))
	}
	switch o.allowlist {
	case "":
	case "*":
		opts = append(opts, sdk.WithIgnoreAllowlist(true))
	default:
		var list []string
		_ = listFlag{&list}.Set(o.allowlist)
		opts = append(opts, sdk.WithKasAllowlist(list))
	}
	return opts, nil
}

// writeWhole runs produce into a temporary file beside dst and renames it to dst only when
// produce succeeded, so a failed or refused call leaves no partial output (a decrypt may
// have written plaintext segments before a later one failed its check).
func writeWhole(dst string, produce func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := produce(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}
