package main

// The JSON upstream's harness hands a command line for assertions: --with-assertions takes
// a list of {id, type, scope, appliesToState, statement{format, schema, value}} with an
// optional signingKey{alg, key}; --with-assertion-verification-keys an object
// {"keys": {ID: {alg, key}}} with an optional defaultKey. Either is the JSON itself or a
// file holding it. HS256 keys are the string's bytes, RS256 keys PEM.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/opentdf/platform/sdk"
)

type jsonKey struct {
	Alg string `json:"alg"`
	Key string `json:"key"`
}

type jsonAssertion struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	Scope          string `json:"scope"`
	AppliesToState string `json:"appliesToState"`
	Statement      struct {
		Format string          `json:"format"`
		Schema string          `json:"schema"`
		Value  json.RawMessage `json:"value"`
	} `json:"statement"`
	SigningKey *jsonKey `json:"signingKey"`
}

// loadJSON reads arg as JSON, or as the name of a file holding JSON, into v.
func loadJSON(flagName, arg string, v any) error {
	data := []byte(arg)
	if t := strings.TrimSpace(arg); !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		var err error
		if data, err = os.ReadFile(arg); err != nil {
			return usagef("--%s: not JSON and not a readable file: %v", flagName, err)
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return usagef("--%s: %v", flagName, err)
	}
	return nil
}

func parseAssertions(arg string) ([]sdk.AssertionConfig, error) {
	var list []jsonAssertion
	if err := loadJSON("with-assertions", arg, &list); err != nil {
		return nil, err
	}
	out := make([]sdk.AssertionConfig, 0, len(list))
	for i, a := range list {
		if a.ID == "" || a.Type == "" || a.Scope == "" || a.AppliesToState == "" {
			return nil, usagef("--with-assertions: assertion %d needs id, type, scope and appliesToState", i)
		}
		value := string(a.Statement.Value)
		var s string
		if json.Unmarshal(a.Statement.Value, &s) == nil {
			value = s // a JSON string holds the statement itself; anything else is its JSON text
		}
		c := sdk.AssertionConfig{
			ID: a.ID, Type: sdk.AssertionType(a.Type), Scope: sdk.Scope(a.Scope),
			AppliesToState: sdk.AppliesToState(a.AppliesToState),
			Statement:      sdk.Statement{Format: a.Statement.Format, Schema: a.Statement.Schema, Value: value},
		}
		if a.SigningKey != nil {
			k, err := assertionKey(*a.SigningKey, false, fmt.Sprintf("signingKey of assertion %q", a.ID))
			if err != nil {
				return nil, err
			}
			c.SigningKey = k
		}
		out = append(out, c)
	}
	return out, nil
}

func parseVerificationKeys(arg string) (sdk.AssertionVerificationKeys, error) {
	var raw struct {
		DefaultKey *jsonKey           `json:"defaultKey"`
		Keys       map[string]jsonKey `json:"keys"`
	}
	keys := sdk.AssertionVerificationKeys{Keys: map[string]sdk.AssertionKey{}}
	if err := loadJSON("with-assertion-verification-keys", arg, &raw); err != nil {
		return keys, err
	}
	if raw.DefaultKey != nil {
		k, err := assertionKey(*raw.DefaultKey, true, "defaultKey")
		if err != nil {
			return keys, err
		}
		keys.DefaultKey = k
	}
	for id, jk := range raw.Keys {
		k, err := assertionKey(jk, true, fmt.Sprintf("key %q", id))
		if err != nil {
			return keys, err
		}
		keys.Keys[id] = k
	}
	return keys, nil
}

// assertionKey turns {alg, key} into the SDK's key: HS256 bytes, or for RS256 the private
// key (signing) or public key (verifying, from a public key or a certificate PEM).
func assertionKey(k jsonKey, verify bool, what string) (sdk.AssertionKey, error) {
	switch strings.ToUpper(k.Alg) {
	case "HS256":
		if k.Key == "" {
			return sdk.AssertionKey{}, usagef("%s: empty HS256 key", what)
		}
		return sdk.AssertionKey{Alg: sdk.AssertionKeyAlgHS256, Key: []byte(k.Key)}, nil
	case "RS256":
		key, err := rsaKey(k.Key, verify)
		if err != nil {
			return sdk.AssertionKey{}, usagef("%s: %v", what, err)
		}
		return sdk.AssertionKey{Alg: sdk.AssertionKeyAlgRS256, Key: key}, nil
	}
	return sdk.AssertionKey{}, usagef("%s: alg %q: expected HS256 or RS256", what, k.Alg)
}

func rsaKey(text string, public bool) (any, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("RS256 key is not PEM")
	}
	if public {
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok {
				return pub, nil
			}
			return nil, fmt.Errorf("certificate key is not RSA")
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := pub.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("public key is not RSA")
	}
	if block.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	if rk, ok := priv.(*rsa.PrivateKey); ok {
		return rk, nil
	}
	return nil, fmt.Errorf("private key is not RSA")
}
