package io.xtdf.javacli;

import io.opentdf.platform.sdk.Config;
import io.opentdf.platform.sdk.NanoTDF;
import io.opentdf.platform.sdk.SDK;
import io.opentdf.platform.sdk.SDKBuilder;
import io.opentdf.platform.sdk.TDF;
import java.io.BufferedInputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import nl.altindag.ssl.SSLFactory;

/** The commands, each a few calls on the SDK's public API. */
final class Commands {
    private Commands() {}

    static void run(Main.Cmd cmd, Options o) throws Exception {
        // check what the user typed before paying for the SDK (keys, token, channels)
        switch (cmd) {
            case ENCRYPT, ENCRYPTNANO -> o.require("kas-url", "where the key is wrapped");
            case DECRYPT, DECRYPTNANO, METADATA_CMD -> o.require("file", "the TDF to read");
            default -> { }
        }
        try (SDK sdk = build(o)) {
            switch (cmd) {
                case ENCRYPT -> encrypt(sdk, o);
                case DECRYPT -> decrypt(sdk, o);
                case METADATA_CMD -> metadata(sdk, o);
                case ENCRYPTNANO -> encryptNano(sdk, o);
                case DECRYPTNANO -> decryptNano(sdk, o);
                default -> throw new Options.UsageException("not a TDF command: " + cmd.word);
            }
        }
    }

    static SDK build(Options o) {
        SDKBuilder b = new SDKBuilder();
        if (o.flag("insecure")) {
            b.sslFactory(SSLFactory.builder().withUnsafeTrustMaterial().build());
        }
        return b.platformEndpoint(grpcTarget(o.require("platform-endpoint", "the platform")))
                .clientSecret(o.require("client-id", "OAuth client"), o.require("client-secret", "OAuth client"))
                .useInsecurePlaintextConnection(o.flag("plaintext"))
                .build();
    }

    /** This SDK dials the platform with gRPC, whose target is host:port; accept a URL too. */
    static String grpcTarget(String endpoint) {
        String t = endpoint.replaceFirst("^[a-zA-Z][a-zA-Z0-9+.-]*://", "");
        int slash = t.indexOf('/');
        return slash < 0 ? t : t.substring(0, slash);
    }

    private static Config.KASInfo[] kasInfos(Options o) {
        return Arrays.stream(o.get("kas-url").split(","))
                .map(String::strip)
                .filter(s -> !s.isEmpty())
                .map(url -> {
                    Config.KASInfo k = new Config.KASInfo();
                    k.URL = url;
                    return k;
                })
                .toArray(Config.KASInfo[]::new);
    }

    private static String[] attributes(Options o) {
        return Arrays.stream(o.get("attr").split(",")).map(String::strip).filter(s -> !s.isEmpty())
                .toArray(String[]::new);
    }

    private static InputStream input(Options o) throws IOException {
        String f = o.get("file");
        if (f == null || f.equals("-")) {
            return new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16);
        }
        return new BufferedInputStream(Files.newInputStream(Path.of(f)), 1 << 16);
    }

    @SuppressWarnings("unchecked")
    private static void encrypt(SDK sdk, Options o) throws Exception {
        List<Consumer<Config.TDFConfig>> cfg = new ArrayList<>();
        cfg.add(Config.withKasInformation(kasInfos(o)));
        if (o.has("metadata")) {
            cfg.add(Config.withMetaData(o.get("metadata")));
        }
        if (o.has("autoconfigure")) {
            cfg.add(Config.withAutoconfigure(o.flag("autoconfigure")));
        }
        if (o.has("mime-type")) {
            cfg.add(Config.withMimeType(o.get("mime-type")));
        }
        if (o.has("with-assertions")) {
            cfg.add(Config.withAssertionConfig(AssertionsJson.assertions(o.get("with-assertions"))));
        }
        if (o.has("attr")) {
            cfg.add(Config.withDataAttributes(attributes(o)));
        }
        Config.TDFConfig config = Config.newTDFConfig(cfg.toArray(new Consumer[0]));
        try (InputStream in = input(o); Output out = Output.open(o.get("output"))) {
            new TDF().createTDF(in, out.stream(), config, sdk.getServices().kas(), sdk.getServices().attributes());
            out.commit();
        }
    }

    private static void decrypt(SDK sdk, Options o) throws Exception {
        Config.AssertionVerificationKeys[] keys = o.has("with-assertion-verification-keys")
                ? new Config.AssertionVerificationKeys[] {
                    AssertionsJson.verificationKeys(o.get("with-assertion-verification-keys")) }
                : new Config.AssertionVerificationKeys[0];
        try (FileChannel in = FileChannel.open(Path.of(o.get("file")), StandardOpenOption.READ);
                Output out = Output.open(o.get("output"))) {
            TDF.Reader reader = new TDF().loadTDF(in, sdk.getServices().kas(), keys);
            reader.readPayload(out.stream());
            out.commit();
        }
    }

    private static void metadata(SDK sdk, Options o) throws Exception {
        try (FileChannel in = FileChannel.open(Path.of(o.get("file")), StandardOpenOption.READ)) {
            TDF.Reader reader = new TDF().loadTDF(in, sdk.getServices().kas());
            String m = reader.getMetadata();
            System.out.write((m == null ? "" : m).getBytes(StandardCharsets.UTF_8));
        }
    }

    @SuppressWarnings("unchecked")
    private static void encryptNano(SDK sdk, Options o) throws Exception {
        List<Consumer<Config.NanoTDFConfig>> cfg = new ArrayList<>();
        cfg.add(Config.withNanoKasInformation(kasInfos(o)));
        if (o.has("attr")) {
            cfg.add(Config.witDataAttributes(attributes(o)));
        }
        Config.NanoTDFConfig config = Config.newNanoTDFConfig(cfg.toArray(new Consumer[0]));
        byte[] data;
        try (InputStream in = input(o)) {
            data = in.readAllBytes();
        }
        try (Output out = Output.open(o.get("output"))) {
            new NanoTDF().createNanoTDF(ByteBuffer.wrap(data), out.stream(), config, sdk.getServices().kas());
            out.commit();
        }
    }

    private static void decryptNano(SDK sdk, Options o) throws Exception {
        byte[] data = Files.readAllBytes(Path.of(o.get("file")));
        try (Output out = Output.open(o.get("output"))) {
            new NanoTDF().readNanoTDF(ByteBuffer.wrap(data), out.stream(), sdk.getServices().kas());
            out.commit();
        }
    }
}
