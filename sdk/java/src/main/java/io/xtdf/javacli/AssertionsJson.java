package io.xtdf.javacli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.opentdf.platform.sdk.AssertionConfig;
import io.opentdf.platform.sdk.Config;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.Locale;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * The JSON that upstream's harness hands a command line for assertions: {@code
 * --with-assertions} takes a list of assertion objects ({@code id, type, scope,
 * appliesToState, statement{format, schema, value}} and an optional {@code signingKey{alg,
 * key}}), {@code --with-assertion-verification-keys} an object {@code {"keys": {ID: {alg,
 * key}}}} (and an optional {@code defaultKey}). Either may be the JSON itself or a path to a
 * file holding it. HS256 keys are the UTF-8 bytes of the string; RS256 keys are PEM.
 */
final class AssertionsJson {
    private AssertionsJson() {}

    static AssertionConfig[] assertions(String arg) throws IOException {
        JsonElement root = load(arg, "--with-assertions");
        if (!root.isJsonArray()) {
            throw new Options.UsageException("--with-assertions: expected a JSON list of assertions");
        }
        JsonArray list = root.getAsJsonArray();
        AssertionConfig[] out = new AssertionConfig[list.size()];
        for (int i = 0; i < list.size(); i++) {
            JsonObject a = object(list.get(i), "assertion " + i);
            AssertionConfig c = new AssertionConfig();
            c.id = string(a, "id");
            c.type = enumByText(AssertionConfig.Type.class, string(a, "type"), "type");
            c.scope = enumByText(AssertionConfig.Scope.class, string(a, "scope"), "scope");
            c.appliesToState = enumByText(AssertionConfig.AppliesToState.class, string(a, "appliesToState"),
                    "appliesToState");
            JsonObject st = object(a.get("statement"), "statement of assertion " + i);
            c.statement = new AssertionConfig.Statement();
            c.statement.format = string(st, "format");
            c.statement.schema = string(st, "schema");
            JsonElement value = st.get("value");
            c.statement.value = value == null || value.isJsonNull() ? null
                    : value.isJsonPrimitive() ? value.getAsString() : value.toString();
            JsonElement key = a.has("signingKey") ? a.get("signingKey") : a.get("assertionKey");
            if (key != null && !key.isJsonNull()) {
                c.assertionKey = key(object(key, "signingKey"), false);
            }
            out[i] = c;
        }
        return out;
    }

    static Config.AssertionVerificationKeys verificationKeys(String arg) throws IOException {
        JsonObject root = object(load(arg, "--with-assertion-verification-keys"), "verification keys");
        Config.AssertionVerificationKeys keys = new Config.AssertionVerificationKeys();
        if (root.has("defaultKey") && !root.get("defaultKey").isJsonNull()) {
            keys.defaultKey = key(object(root.get("defaultKey"), "defaultKey"), true);
        }
        if (root.has("keys") && !root.get("keys").isJsonNull()) {
            for (var e : object(root.get("keys"), "keys").entrySet()) {
                keys.keys.put(e.getKey(), key(object(e.getValue(), "key " + e.getKey()), true));
            }
        }
        return keys;
    }

    private static JsonElement load(String arg, String option) throws IOException {
        String text = arg.strip();
        if (!text.startsWith("[") && !text.startsWith("{")) {
            Path p = Path.of(arg);
            if (!Files.isRegularFile(p)) {
                throw new Options.UsageException(option + ": neither JSON nor a readable file: " + arg);
            }
            text = Files.readString(p, StandardCharsets.UTF_8);
        }
        try {
            return JsonParser.parseString(text);
        } catch (JsonParseException e) {
            throw new Options.UsageException(option + ": not valid JSON: " + e.getMessage());
        }
    }

    private static AssertionConfig.AssertionKey key(JsonObject k, boolean verifying) throws IOException {
        String alg = string(k, "alg");
        String material = string(k, "key");
        if (alg == null || material == null) {
            throw new Options.UsageException("assertion key: needs alg and key");
        }
        switch (alg.toUpperCase(Locale.ROOT)) {
            case "HS256":
                return new AssertionConfig.AssertionKey(AssertionConfig.AssertionKeyAlg.HS256,
                        material.getBytes(StandardCharsets.UTF_8));
            case "RS256":
                return new AssertionConfig.AssertionKey(AssertionConfig.AssertionKeyAlg.RS256,
                        pemKey(material.replace("\\n", "\n"), verifying));
            default:
                throw new Options.UsageException("assertion key: unknown alg '" + alg + "' (HS256 or RS256)");
        }
    }

    /** A private key (to sign) or a public key (to verify) from PEM; a private PEM also
     * verifies, through its public half. */
    private static Key pemKey(String pem, boolean wantPublic) throws IOException {
        Object parsed;
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            parsed = parser.readObject();
        }
        JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
        PrivateKey priv = null;
        PublicKey pub = null;
        if (parsed instanceof PEMKeyPair kp) {
            KeyPair pair = conv.getKeyPair(kp);
            priv = pair.getPrivate();
            pub = pair.getPublic();
        } else if (parsed instanceof PrivateKeyInfo pki) {
            priv = conv.getPrivateKey(pki);
        } else if (parsed instanceof SubjectPublicKeyInfo spki) {
            pub = conv.getPublicKey(spki);
        } else if (parsed instanceof X509CertificateHolder cert) {
            try {
                X509Certificate x = new JcaX509CertificateConverter().getCertificate(cert);
                pub = x.getPublicKey();
            } catch (java.security.cert.CertificateException e) {
                throw new Options.UsageException("assertion key: bad certificate: " + e.getMessage());
            }
        } else {
            throw new Options.UsageException("assertion key: RS256 key is not a PEM key");
        }
        if (wantPublic) {
            if (pub == null && priv instanceof java.security.interfaces.RSAPrivateCrtKey crt) {
                try {
                    pub = java.security.KeyFactory.getInstance("RSA").generatePublic(
                            new java.security.spec.RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
                } catch (java.security.GeneralSecurityException e) {
                    throw new Options.UsageException("assertion key: " + e.getMessage());
                }
            }
            if (pub == null) {
                throw new Options.UsageException("assertion key: RS256 verification needs a public key");
            }
            return pub;
        }
        if (priv == null) {
            throw new Options.UsageException("assertion key: RS256 signing needs a private key");
        }
        return priv;
    }

    /** The spec's JSON words for the SDK's enum constants (the SDK keeps them private). */
    private static final java.util.Map<String, String> WORDS = java.util.Map.of(
            "handling", "HandlingAssertion", "base", "BaseAssertion",
            "tdo", "TrustedDataObj", "payload", "Payload",
            "encrypted", "Encrypted", "unencrypted", "Unencrypted");

    private static <E extends Enum<E>> E enumByText(Class<E> type, String text, String field) {
        if (text == null) {
            return null;
        }
        String name = WORDS.getOrDefault(text.toLowerCase(Locale.ROOT), text);
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(name)) {
                return e;
            }
        }
        throw new Options.UsageException("assertion " + field + ": unknown value '" + text + "'");
    }

    private static JsonObject object(JsonElement e, String what) {
        if (e == null || !e.isJsonObject()) {
            throw new Options.UsageException(what + ": expected a JSON object");
        }
        return e.getAsJsonObject();
    }

    private static String string(JsonObject o, String field) {
        JsonElement e = o.get(field);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }
}
