package org.jvisor.sandbox;

import org.jvisor.sys.Credentials;
import org.jvisor.sys.SysException;

/**
 * QEMU's {@code -run-with user=USER[,chroot=DIR]} (QEMU 8.1; 7.2 spells it {@code -runas USER} and
 * {@code -chroot DIR}): once the machine has opened its images, devices and sockets, jvisor moves
 * its root to DIR and becomes USER (a name, or uid:gid) for good.
 *
 * @param user   a user name or "uid:gid", or null to stay who we are
 * @param chroot the new root directory, or null
 */
public record RunWith(String user, String chroot) {

    /** Whether anything is to change: a user or a root given. */
    public boolean isSet() {
        return user != null || chroot != null;
    }

    /** Parses the value of {@code -run-with}. */
    public static RunWith parse(String value) {
        String user = null;
        String chroot = null;
        for (String part : value.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? "" : part.substring(eq + 1);
            if (v.isEmpty()) {
                throw new IllegalArgumentException("-run-with: '" + part + "' needs a value (user=USER or chroot=DIR)");
            }
            switch (key) {
                case "user" -> user = v;
                case "chroot" -> chroot = v;
                default -> throw new IllegalArgumentException("-run-with: unknown property '" + key + "' (known: user, chroot)");
            }
        }
        return new RunWith(user, chroot);
    }

    /** This with the user replaced ({@code -runas}). */
    public RunWith withUser(String u) {
        return new RunWith(u, chroot);
    }

    /** This with the root replaced ({@code -chroot}). */
    public RunWith withChroot(String dir) {
        return new RunWith(user, dir);
    }

    /**
     * Moves the root and drops to the user. The user is looked up before the root moves (the
     * password database stays outside).
     *
     * @throws SysException if a step fails (the message names it); the process must not go on then
     */
    public void enter() throws SysException {
        Credentials.User target = null;
        boolean byName = true;
        if (user != null) {
            int colon = user.indexOf(':');
            if (colon > 0 && user.substring(0, colon).chars().allMatch(Character::isDigit)
                    && user.substring(colon + 1).chars().allMatch(Character::isDigit) && colon < user.length() - 1) {
                target = new Credentials.User(user, Integer.parseInt(user.substring(0, colon)),
                    Integer.parseInt(user.substring(colon + 1)));
                byName = false;
            } else {
                target = Credentials.lookup(user);
                if (target == null) {
                    throw new SysException("getpwnam(" + user + "): no such user", 2);
                }
            }
        }
        if (chroot != null) {
            Credentials.changeRoot(chroot);
        }
        if (target != null) {
            Credentials.become(target, byName);
        }
    }
}
