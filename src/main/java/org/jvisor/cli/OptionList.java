package org.jvisor.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * QEMU's "key=value,key=value" option syntax. The first element may be a bare value (the
 * "implied" key, such as the driver name of -device or the accelerator of -accel).
 */
record OptionList(String option, String implied, Map<String, String> values) {

    static OptionList parse(String option, String text, boolean firstIsImplied) throws UsageException {
        Map<String, String> values = new LinkedHashMap<>();
        String implied = null;
        String[] parts = text.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            if (i == 0 && firstIsImplied && eq < 0) {
                if (p.isEmpty()) {
                    throw new UsageException(option + ": empty value");
                }
                implied = p;
                continue;
            }
            if (eq <= 0) {
                throw new UsageException(option + ": '" + p + "' is not of the form key=value");
            }
            String key = p.substring(0, eq);
            if (values.put(key, p.substring(eq + 1)) != null) {
                throw new UsageException(option + ": '" + key + "' given twice");
            }
        }
        return new OptionList(option, implied, values);
    }

    /** Fails on any key not in {@code allowed}, naming it and the ones that are. */
    void allowOnly(Set<String> allowed, String what) throws UsageException {
        for (String k : values.keySet()) {
            if (!allowed.contains(k)) {
                throw new UsageException(option + " " + what + ": unknown property '" + k + "' (known: "
                    + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    String get(String key) {
        return values.get(key);
    }

    /** QEMU's booleans (on/off, yes/no, true/false) of {@code key}, {@code dflt} when absent; {@code what} names the object. */
    boolean bool(String what, String key, boolean dflt) throws UsageException {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException(option + " " + what + ": " + key + "='" + v + "' (expected on or off)");
        };
    }

    /** A -device property {@code key} as a number in [min, max], {@code dflt} when absent. */
    int number(String device, String key, int dflt, int min, int max) throws UsageException {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new UsageException("-device " + device + ": " + key + "=" + v + " is out of range (" + min + "-" + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-device " + device + ": " + key + "='" + v + "' is not a number");
        }
    }
}
