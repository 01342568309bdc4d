package io.xtdf.javacli;

import io.opentdf.platform.sdk.AsymDecryption;
import io.opentdf.platform.sdk.Config;
import io.opentdf.platform.sdk.CryptoUtils;
import io.opentdf.platform.sdk.KASKeyCache;
import io.opentdf.platform.sdk.Manifest;
import io.opentdf.platform.sdk.NanoTDF;
import io.opentdf.platform.sdk.SDK;
import io.opentdf.platform.sdk.TDF;
import io.opentdf.platform.sdk.nanotdf.ECKeyPair;
import io.opentdf.platform.sdk.nanotdf.NanoTDFType;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;

/**
 * The training run for the class-data-sharing archive that install.sh makes (hidden command
 * {@code xtdf-train}): it loads the classes a real call loads, without a platform. It writes
 * and reads a ZTDF with an assertion and writes a NanoTDF, with keys held in this process, and
 * then builds an SDK against a closed port so gRPC, Netty and the OAuth classes load too.
 * It never talks to anything but that closed loopback port, and its output is discarded.
 */
final class Train {
    private Train() {}

    /** Keys held in this process: only for the training run, never for a real command. */
    private static final class LocalKeys implements SDK.KAS {
        private final KeyPair rsa = CryptoUtils.generateRSAKeypair();
        private final ECKeyPair ec = new ECKeyPair("secp256r1", ECKeyPair.ECAlgorithm.ECDH);
        private final KASKeyCache cache = new KASKeyCache();

        @Override
        public Config.KASInfo getPublicKey(Config.KASInfo info) {
            Config.KASInfo k = info.clone();
            k.PublicKey = CryptoUtils.getRSAPublicKeyPEM(rsa.getPublic());
            k.KID = "train-r1";
            return k;
        }

        @Override
        public Config.KASInfo getECPublicKey(Config.KASInfo info, NanoTDFType.ECCurve curve) {
            Config.KASInfo k = info.clone();
            k.PublicKey = ec.publicKeyInPEMFormat();
            k.KID = "train-e1";
            return k;
        }

        @Override
        public byte[] unwrap(Manifest.KeyAccess keyAccess, String policy) {
            return new AsymDecryption(rsa.getPrivate()).decrypt(Base64.getDecoder().decode(keyAccess.wrappedKey));
        }

        @Override
        public byte[] unwrapNanoTDF(NanoTDFType.ECCurve curve, String header, String kasURL) {
            throw new UnsupportedOperationException("training run");
        }

        @Override
        public KASKeyCache getKeyCache() {
            return cache;
        }

        @Override
        public void close() {}
    }

    @SuppressWarnings("unchecked")
    static void run() throws Exception {
        LocalKeys kas = new LocalKeys();
        Config.KASInfo info = new Config.KASInfo();
        info.URL = "http://127.0.0.1:1/kas";
        byte[] plain = "xtdf training run\n".repeat(64).getBytes(StandardCharsets.UTF_8);
        String assertion = "[{\"id\":\"a1\",\"type\":\"handling\",\"scope\":\"tdo\",\"appliesToState\":\"encrypted\","
                + "\"statement\":{\"format\":\"json\",\"schema\":\"s\",\"value\":\"{}\"},"
                + "\"signingKey\":{\"alg\":\"HS256\",\"key\":\"xtdf-training-key-0123456789abcd\"}}]";
        List<Consumer<Config.TDFConfig>> cfg = List.of(Config.withKasInformation(info),
                Config.withAutoconfigure(false), Config.withMimeType("text/plain"),
                Config.withAssertionConfig(AssertionsJson.assertions(assertion)));
        ByteArrayOutputStream tdf = new ByteArrayOutputStream();
        new TDF().createTDF(new java.io.ByteArrayInputStream(plain), tdf,
                Config.newTDFConfig(cfg.toArray(new Consumer[0])), kas, null);
        Config.AssertionVerificationKeys keys = AssertionsJson.verificationKeys(
                "{\"keys\":{\"a1\":{\"alg\":\"HS256\",\"key\":\"xtdf-training-key-0123456789abcd\"}}}");
        TDF.Reader reader = new TDF().loadTDF(new Bytes(tdf.toByteArray()), kas, keys);
        ByteArrayOutputStream back = new ByteArrayOutputStream();
        reader.readPayload(back);
        if (!java.util.Arrays.equals(plain, back.toByteArray())) {
            throw new IllegalStateException("training round trip differs");
        }
        new NanoTDF().createNanoTDF(ByteBuffer.wrap(plain), new ByteArrayOutputStream(),
                Config.newNanoTDFConfig(Config.withNanoKasInformation(info)), kas);
        try {
            Options o = Options.parse(List.of("--client-id=x", "--client-secret=y", "-h",
                    "--platform-endpoint=127.0.0.1:1"), Main.GLOBAL);
            Commands.build(o).close();
        } catch (RuntimeException expected) {
            Main.describe(expected);
        }
        Help.text(null);
        Main.version().json();
    }

    /** A byte array as the SeekableByteChannel that loadTDF reads. */
    private static final class Bytes implements SeekableByteChannel {
        private final byte[] data;
        private long pos;

        Bytes(byte[] data) {
            this.data = data;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (pos >= data.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), data.length - pos);
            dst.put(data, (int) pos, n);
            pos += n;
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long position() {
            return pos;
        }

        @Override
        public SeekableByteChannel position(long p) {
            pos = p;
            return this;
        }

        @Override
        public long size() {
            return data.length;
        }

        @Override
        public SeekableByteChannel truncate(long size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }
}
