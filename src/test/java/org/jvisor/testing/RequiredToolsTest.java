package org.jvisor.testing;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing tool skips, or with -Djvisor.requireTools=true fails; the build passes the switch on. */
class RequiredToolsTest {

    @Test
    void aMissingToolSkipsOrFails() {
        String before = System.getProperty(RequiredTools.PROPERTY);
        // the pom gives every test JVM the switch (false unless the build says otherwise)
        assertNotNull(before, "surefire/failsafe pass " + RequiredTools.PROPERTY);
        try {
            System.setProperty(RequiredTools.PROPERTY, "false");
            RequiredTools.assume(true, "present");
            assertThrows(TestAbortedException.class, () -> RequiredTools.assume(false, "frobnicator is not installed"));
            System.setProperty(RequiredTools.PROPERTY, "true");
            AssertionFailedError e = assertThrows(AssertionFailedError.class,
                () -> RequiredTools.assume(false, "frobnicator is not installed"));
            assertTrue(e.getMessage().startsWith("frobnicator is not installed"), e.getMessage());
        } finally {
            System.setProperty(RequiredTools.PROPERTY, before);
        }
    }
}
