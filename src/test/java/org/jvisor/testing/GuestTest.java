package org.jvisor.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks a test class of the slow set: {@code mvn test} (surefire) leaves it out, {@code mvn verify}
 * runs it afterwards (failsafe), and so do {@code ./jvisor test} and CI. It belongs here when it
 * <ul>
 *   <li>boots a guest: a test guest from {@code target/guests} or the Linux demo guest, on an
 *       engine in this JVM ({@code Machine}, an accelerator) or under QEMU;</li>
 *   <li>starts jvisor as a process ({@link JvisorProcess}, {@link JvisorSession}), even only to
 *       check that it refuses bad input: each is a JVM start;</li>
 *   <li>builds or reads the demo guest (Debian's packages, its kernel), or runs a long
 *       differential or fuzz campaign.</li>
 * </ul>
 * Everything else is a unit test and stays untagged: devices driven through their registers,
 * decoder and interpreter tests on assembly snippets, parsers, tables, backends. A unit test that
 * boots nothing should take well under a second; if it does not, make it faster rather than
 * moving it here. {@code GuestTestTagTest} checks that classes starting jvisor or a
 * {@code Machine} carry this tag.
 * <p>
 * Surefire skips these even when named with {@code -Dtest}; run one alone through failsafe:
 * {@code mvn verify -Dit.test=KvmGuestTest -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Inherited
@Tag(GuestTest.TAG)
public @interface GuestTest {
    /** The JUnit tag; pom.xml names it in surefire's excludedGroups and failsafe's groups. */
    String TAG = "guest";
}
