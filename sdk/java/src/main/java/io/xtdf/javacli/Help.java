package io.xtdf.javacli;

import java.util.List;

/** {@code help} and {@code help COMMAND}: every option by name, one a line, as picocli lists them. */
final class Help {
    private Help() {}

    static String text(Main.Cmd cmd) {
        StringBuilder sb = new StringBuilder();
        Main.Version v = Main.version();
        if (cmd == null) {
            sb.append("Usage: tdf [OPTIONS] COMMAND [COMMAND OPTIONS]\n");
            sb.append(Main.NAME).append(": a command line for the OpenTDF Java SDK ").append(v.sdk())
                    .append(" (io.opentdf.platform:sdk), writing TDF spec ").append(v.tdfSpec()).append('\n');
            options(sb, Main.GLOBAL);
            sb.append("Commands:\n");
            for (Main.Cmd c : Main.Cmd.values()) {
                sb.append(String.format("  %-12s %s%n", c.word, c.summary));
            }
            return sb.toString();
        }
        sb.append("Usage: tdf [OPTIONS] ").append(cmd.word).append(" [COMMAND OPTIONS]\n");
        sb.append(cmd.summary).append('\n');
        options(sb, cmd.options);
        return sb.toString();
    }

    private static void options(StringBuilder sb, List<Options.Spec> specs) {
        for (Options.Spec s : specs) {
            sb.append(String.format("  %-44s %s%n", s.synopsis(), s.help()));
        }
    }
}
