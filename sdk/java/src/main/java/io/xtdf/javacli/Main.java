package io.xtdf.javacli;

import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * xtdf's command line for the OpenTDF Java SDK. Its commands and option names are those of
 * upstream's Java command line ({@code opentdf/java-sdk}, module {@code cmdline}) at the SDK
 * version it is built with, so upstream's {@code xtest/sdk/java/cli.sh} can drive it:
 *
 * <pre>
 *   tdf --client-id=ID --client-secret=S --platform-endpoint=HOST:PORT [-h] encrypt -k KAS -f FILE
 *   tdf ... decrypt -f FILE      tdf ... encryptnano|decryptnano ...      tdf --version
 * </pre>
 *
 * Output goes to standard output, or with {@code -o FILE} (ours) to FILE, which appears whole
 * or not at all. A failure prints one line on standard error and exits non-zero (2 for a
 * usage error, 1 otherwise); {@code -v} adds the SDK's debug log and the stack trace.
 */
public final class Main {
    static final String NAME = "xtdf-java-cli";

    static final List<Options.Spec> GLOBAL = List.of(
            Options.Spec.value("clientId", "OAuth client id", "--client-id"),
            Options.Spec.value("clientSecret", "OAuth client secret", "--client-secret"),
            Options.Spec.value("platformEndpoint",
                    "the platform's gRPC address, host:port (a URL's scheme and path are dropped)",
                    "-p", "--platform-endpoint"),
            Options.Spec.flag("plaintext: no TLS to the platform and KAS", "-h", "--plaintext"),
            Options.Spec.flag("trust any TLS certificate", "-i", "--insecure"),
            Options.Spec.flag("log the SDK's debug output and print stack traces", "-v", "--verbose"),
            Options.Spec.flag("display version info (JSON)", "-V", "--version"),
            Options.Spec.flag("show this help", "--help"));

    static final Options.Spec FILE_IN = Options.Spec.value("file", "input file", "-f", "--file");
    static final Options.Spec FILE_OUT = Options.Spec.value("output",
            "write here instead of standard output; appears whole or not at all", "-o", "--output");
    static final Options.Spec KAS_URL = Options.Spec.value("kasUrl", "KAS URL(s), comma separated",
            "-k", "--kas-url");
    static final Options.Spec METADATA = Options.Spec.value("metadata", "metadata to store with the key",
            "-m", "--metadata");
    static final Options.Spec ATTR = Options.Spec.value("attr", "data attribute value FQNs, comma separated",
            "-a", "--attr");

    /** The commands: name, summary, options (beside the global ones). */
    enum Cmd {
        ENCRYPT("encrypt", "encrypt FILE (or standard input) into a ZTDF",
                FILE_IN, KAS_URL, METADATA, ATTR,
                Options.Spec.flag("split the key by the attributes' KAS grants (default true)",
                        "-c", "--autoconfigure"),
                Options.Spec.value("mimeType", "payload MIME type", "--mime-type"),
                Options.Spec.value("assertions", "assertions: a JSON list, or a file holding one",
                        "--with-assertions"),
                FILE_OUT),
        DECRYPT("decrypt", "decrypt a ZTDF",
                FILE_IN,
                Options.Spec.value("keys",
                        "assertion verification keys: JSON {\"keys\": {ID: {alg, key}}}, or a file",
                        "--with-assertion-verification-keys"),
                FILE_OUT),
        METADATA_CMD("metadata", "print the metadata stored with a ZTDF's key", FILE_IN),
        ENCRYPTNANO("encryptnano", "encrypt FILE (or standard input) into a NanoTDF",
                FILE_IN, KAS_URL, METADATA, ATTR, FILE_OUT),
        DECRYPTNANO("decryptnano", "decrypt a NanoTDF", FILE_IN, FILE_OUT),
        HELP("help", "show help for a command: help [COMMAND]");

        final String word;
        final String summary;
        final List<Options.Spec> options;

        Cmd(String word, String summary, Options.Spec... options) {
            this.word = word;
            this.summary = summary;
            this.options = List.of(options);
        }

        static Cmd of(String word) {
            for (Cmd c : values()) {
                if (c.word.equals(word)) {
                    return c;
                }
            }
            return null;
        }

        List<Options.Spec> allOptions() {
            List<Options.Spec> all = new ArrayList<>(GLOBAL);
            all.addAll(options);
            return all;
        }
    }

    private Main() {}

    public static void main(String[] argv) {
        boolean verbose = Arrays.asList(argv).contains("-v") || Arrays.asList(argv).contains("--verbose");
        quietLogging(verbose);
        int rc;
        try {
            rc = run(List.of(argv));
        } catch (Options.UsageException e) {
            System.err.println(NAME + "@" + version().sdk + ": usage: " + e.getMessage()
                    + " (see: help)");
            rc = 2;
        } catch (Throwable t) {
            if (verbose) {
                t.printStackTrace();
            }
            System.err.println(NAME + "@" + version().sdk + ": error: " + describe(t));
            rc = 1;
        }
        System.out.flush();
        // gRPC and OkHttp threads must not keep a finished command alive
        Runtime.getRuntime().halt(rc);
    }

    static int run(List<String> argv) throws Exception {
        if (argv.equals(List.of("xtdf-train"))) {
            Train.run(); // install.sh's training run for the class-data-sharing archive
            return 0;
        }
        // the command is the first word that is not an option or an option's value
        int at = commandIndex(argv);
        Cmd cmd = at < 0 ? null : Cmd.of(argv.get(at));
        if (at >= 0 && cmd == null) {
            throw new Options.UsageException("unknown command '" + argv.get(at) + "'");
        }
        List<String> rest = new ArrayList<>(argv);
        if (at >= 0) {
            rest.remove(at);
        }
        Options o = Options.parse(rest, cmd == null ? GLOBAL : cmd.allOptions());
        PrintStream out = System.out;
        if (o.flag("version")) {
            out.println(version().json());
            return 0;
        }
        if (cmd == null || o.flag("help")) {
            out.print(Help.text(cmd));
            return cmd == null && !o.flag("help") ? 2 : 0;
        }
        if (cmd == Cmd.HELP) {
            String topic = o.positional().isEmpty() ? null : o.positional().get(0);
            Cmd about = topic == null ? null : Cmd.of(topic);
            if (topic != null && about == null) {
                throw new Options.UsageException("no such command '" + topic + "'");
            }
            out.print(Help.text(about));
            return 0;
        }
        if (!o.positional().isEmpty()) {
            throw new Options.UsageException("unexpected argument '" + o.positional().get(0) + "'");
        }
        Commands.run(cmd, o);
        return 0;
    }

    private static int commandIndex(List<String> argv) {
        List<Options.Spec> valued = new ArrayList<>();
        for (Cmd c : Cmd.values()) {
            valued.addAll(c.allOptions());
        }
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (!a.startsWith("-")) {
                return i;
            }
            if (a.contains("=") || (!a.startsWith("--") && a.length() > 2)) {
                continue;
            }
            for (Options.Spec s : valued) {
                if (!s.isFlag() && s.names().contains(a)) {
                    i++;
                    break;
                }
            }
        }
        return -1;
    }

    /** One line: the exception's type and message, and the innermost cause's when it adds one;
     * a gRPC status is shown as its code and description (its text embeds a stack trace). */
    static String describe(Throwable t) {
        StatusRuntimeException grpc = null;
        for (Throwable c = t; c != null && grpc == null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof StatusRuntimeException s) {
                grpc = s;
            }
        }
        String msg = String.valueOf(t.getMessage());
        if (grpc != null) {
            String status = "gRPC " + grpc.getStatus().getCode()
                    + (grpc.getStatus().getDescription() == null ? "" : " \"" + grpc.getStatus().getDescription() + "\"");
            int at = msg.indexOf("Status{");
            if (at >= 0) {
                int end = msg.lastIndexOf('}');
                msg = msg.substring(0, at) + status + (end > at ? msg.substring(end + 1) : "");
            } else if (t != grpc) {
                msg = msg + " [" + status + "]";
            } else {
                msg = status;
            }
        }
        StringBuilder sb = new StringBuilder(kind(t)).append(": ").append(msg);
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root != t && root != grpc && root.getMessage() != null && !sb.toString().contains(root.getMessage())) {
            sb.append(" (caused by ").append(kind(root)).append(": ").append(root.getMessage()).append(")");
        }
        String line = sb.toString().replaceAll("\\s+", " ").strip();
        return line.length() > 600 ? line.substring(0, 600) + "..." : line;
    }

    private static String kind(Throwable t) {
        if (t instanceof NoSuchFileException) {
            return "NoSuchFile";
        }
        String n = t.getClass().getName();
        return n.substring(n.lastIndexOf('.') + 1).replace('$', '.');
    }

    private static void quietLogging(boolean verbose) {
        if (verbose) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
        } else {
            // gRPC and its shaded Netty log through java.util.logging
            java.util.logging.LogManager.getLogManager().reset();
            java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.OFF);
        }
    }

    /** What {@code --version} prints; filled in at build time (xtdf-java-cli.properties). */
    record Version(String sdk, String tdfSpec, String cli) {
        String json() {
            return "{\"version\":\"" + sdk + "\",\"tdfSpecVersion\":\"" + tdfSpec
                    + "\",\"sdk\":\"io.opentdf.platform:sdk\",\"cli\":\"" + NAME + " " + cli + "\"}";
        }
    }

    private static Version version;

    static Version version() {
        if (version == null) {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/xtdf-java-cli.properties")) {
                if (in != null) {
                    p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // fall through to "unknown"
            }
            version = new Version(p.getProperty("sdk.version", "unknown"),
                    p.getProperty("tdf.spec.version", "unknown"), p.getProperty("cli.version", "unknown"));
        }
        return version;
    }
}
