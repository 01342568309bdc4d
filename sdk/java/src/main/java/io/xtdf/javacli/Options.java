package io.xtdf.javacli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Command-line options, accepted in the forms upstream's picocli command line accepts:
 * {@code --name=value}, {@code --name value}, {@code -x value}, {@code -xvalue}; a flag is
 * {@code --flag} or {@code --flag=true|false} (or {@code --flag true|false}).
 */
final class Options {

    /** One option: its names (short first), its parameter label (null for a flag), its help. */
    record Spec(List<String> names, String param, String help) {
        static Spec flag(String help, String... names) {
            return new Spec(List.of(names), null, help);
        }

        static Spec value(String param, String help, String... names) {
            return new Spec(List.of(names), param, help);
        }

        boolean isFlag() {
            return param == null;
        }

        /** The key a parsed value is stored under: the long name without its dashes. */
        String key() {
            return names.get(names.size() - 1).replaceFirst("^-+", "");
        }

        String synopsis() {
            String joined = String.join(", ", names);
            return isFlag() ? joined : joined + "=<" + param + ">";
        }
    }

    /** Thrown for anything the user typed wrong; reported as a usage error (exit 2). */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();

    private Options() {}

    /** Parses {@code args} against {@code specs}; unknown options are usage errors. */
    static Options parse(List<String> args, List<Spec> specs) {
        Map<String, Spec> byName = new LinkedHashMap<>();
        for (Spec s : specs) {
            for (String n : s.names()) {
                byName.put(n, s);
            }
        }
        Options o = new Options();
        boolean onlyPositional = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (onlyPositional || !a.startsWith("-") || a.equals("-")) {
                o.positional.add(a);
                continue;
            }
            if (a.equals("--")) {
                onlyPositional = true;
                continue;
            }
            String name = a;
            String value = null;
            if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
            } else if (a.length() > 2) {
                name = a.substring(0, 2);
                value = a.substring(2);
                if (value.startsWith("=")) {
                    value = value.substring(1);
                }
            }
            Spec spec = byName.get(name);
            if (spec == null) {
                throw new UsageException("unknown option '" + name + "'");
            }
            if (spec.isFlag()) {
                if (value == null && i + 1 < args.size() && isBoolean(args.get(i + 1))) {
                    value = args.get(++i);
                }
                if (value == null) {
                    value = "true";
                } else if (!isBoolean(value)) {
                    throw new UsageException(name + " takes true or false, not '" + value + "'");
                }
                value = value.toLowerCase(java.util.Locale.ROOT);
            } else if (value == null) {
                if (i + 1 >= args.size()) {
                    throw new UsageException("missing value for " + name + "=<" + spec.param() + ">");
                }
                value = args.get(++i);
            }
            o.values.put(spec.key(), value);
        }
        return o;
    }

    private static boolean isBoolean(String s) {
        return s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false");
    }

    List<String> positional() {
        return positional;
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    String get(String key) {
        return values.get(key);
    }

    String require(String key, String what) {
        String v = values.get(key);
        if (v == null || v.isEmpty()) {
            throw new UsageException("missing required option --" + key + " (" + what + ")");
        }
        return v;
    }

    boolean flag(String key) {
        return "true".equals(values.get(key));
    }
}
