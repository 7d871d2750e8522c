package org.jvisor.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks a test (class or method) that {@code mvn verify}, and so {@code ./jvisor test} and CI, runs
 * a second time with tcg's translator forced on for every block ({@code -Djvisor.tcg.jit=always},
 * which reaches the jvisor processes the test starts too): the translator's check on real guests.
 * Unit tests run that way with every unit run replayed by the interpreter as well
 * ({@code -Djvisor.tcg.jitVerify=true}). Chosen for what they cover per minute: translating every
 * block makes a Linux boot about ten times slower, and the whole suite that way takes about 20
 * minutes ({@code mvn verify -Djvisor.test.jvmargs=-Djvisor.tcg.jit=always}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag(TranslatedToo.TAG)
public @interface TranslatedToo {
    /** The JUnit tag; pom.xml's second surefire and failsafe executions select it. */
    String TAG = "translated";
}
